// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QStringView>

namespace perfdash {

/// Shell-style match of a whole operation name: '*' any run of characters (dots included), '?'
/// one character, everything else literal. Written here because QRegularExpression's wildcard
/// conversion treats '/' as a path separator ("http.GET /users") and costs an allocation per match.
bool globMatch(QStringView pattern, QStringView text) noexcept;
/// True when @p pattern has no wildcard, so it names exactly one operation.
bool isLiteralPattern(QStringView pattern) noexcept;

} // namespace perfdash
