// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

class QFontMetrics;

namespace perfdash {

/**
 * A demangled C++ name made short enough to read, as Hotspot's "prettified" symbols: template
 * arguments become "<...>" (`std::vector<int, std::allocator<int> >::push_back(int const&)` reads
 * `std::vector<...>::push_back(int const&)`), libstdc++'s and libc++'s inline namespaces go and
 * std::basic_string<char> reads std::string. Operators (`operator<`, `operator<<`, `operator->`),
 * lambdas and function pointers are kept as they are. A name that is not C++ comes back unchanged.
 */
QString prettifySymbol(const QString& name);

/// Where the last component of a qualified name starts ("push_back(int)" in
/// "std::vector<...>::push_back(int)"): the method's name, the part to keep when eliding.
qsizetype methodNameStart(const QString& name);

/**
 * @p name cut to @p width pixels from the middle: its start and its method name (the last
 * component, methodNameStart()) are kept around an ellipsis; when even the method name does not
 * fit, it is what is shown, cut on its right.
 */
QString elideSymbol(const QString& name, const QFontMetrics& metrics, int width);

} // namespace perfdash
