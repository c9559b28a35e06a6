// SPDX-License-Identifier: MIT
// What the C API shares with the C++ one, with error codes instead of silence.
#pragma once

#include "perfdash/perfdash.hpp"
#include "threadstate.h"

namespace perfdash::internal {

bool disabled() noexcept;
/// Whether @p op was returned by operation(): recording on any other id is refused.
bool registered(OpId op) noexcept;
/// Records; PERFDASH_OK, or the documented error (EINVAL, ETOOMANY, ENOMEM, DISABLED).
int record(OpId op, std::uint64_t ns, bool ok, int clock, std::uint64_t end, Meta* meta) noexcept;
int finish(OpId op, std::uint64_t start, int clock, bool ok, Meta* meta) noexcept;
/// operation() with the reason when there is no id.
OpId lookup(const char* name, int* error) noexcept;
/// Metadata packed by Scope::meta(), as pairs.
Meta* unpack(const char* buffer, std::uint32_t bytes);

} // namespace perfdash::internal
