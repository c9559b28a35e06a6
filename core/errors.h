// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <optional>

namespace perfdash {

// The one convention for functions that can fail (CONTRIBUTING.md): they return false (or an empty
// std::optional) and say why, as a sentence for the user, through a trailing `QString* error` that
// may be null.

/// `return failWith(error, why);`: sets *@p error when it is asked for, and returns false.
inline bool failWith(QString* error, const QString& why)
{
    if (error)
        *error = why;
    return false;
}

/// `return noneWith<T>(error, why);`: the same for a function returning std::optional<T>.
template <typename T> std::optional<T> noneWith(QString* error, const QString& why)
{
    failWith(error, why);
    return std::nullopt;
}

} // namespace perfdash
