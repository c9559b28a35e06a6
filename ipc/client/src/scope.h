// SPDX-License-Identifier: MIT
// A scope's begin and end, shared by the C++ Scope and the C API's perfdash_scope.
#pragma once

#include "perfdash/perfdash.hpp"

namespace perfdash::internal {

/// Ends a scope begun by detail::beginOp() (or detail::begin()); PERFDASH_OK or the error of
/// internal::record(). @p exceptions: the count begin() returned (~0u: exceptions do not count).
int endScope(OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed) noexcept;

} // namespace perfdash::internal
