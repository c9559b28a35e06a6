// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/symbolprettifier.h"

#include <QFontMetrics>
#include <QRegularExpression>

namespace perfdash {

namespace {

bool endsWithOperator(const QString& text)
{
    // "operator" as a whole word: "my_operator" is a name, not an operator.
    static const QLatin1String word("operator");
    if (!text.endsWith(word))
        return false;
    const qsizetype before = text.size() - word.size() - 1;
    return before < 0 || !(text.at(before).isLetterOrNumber() || text.at(before) == u'_');
}

/// The '<' or '>' at @p i of @p in is part of an operator's name (operator<, operator<<, operator>>=, operator->).
bool isOperatorChar(const QString& in, qsizetype i)
{
    const QString before = in.left(i);
    if (endsWithOperator(before))
        return true;
    // The second character of operator<<, operator>>, operator<=, operator->, operator<=>.
    if (i >= 1) {
        const QChar prev = in.at(i - 1);
        if ((prev == u'<' || prev == u'>' || prev == u'-' || prev == u'=') && endsWithOperator(in.left(i - 1)))
            return true;
        if (i >= 2 && prev == u'=' && in.at(i - 2) == u'<' && endsWithOperator(in.left(i - 2)))
            return true; // operator<=>
    }
    return false;
}

/// Where the parameter list of a method's name starts (its '(' outside template arguments, after
/// an operator's own characters: "operator()", "operator<<", "operator<=>"); -1 when it has none.
qsizetype parametersStart(const QString& method)
{
    int depth = 0;
    qsizetype from = 0;
    if (method.startsWith(QLatin1String("operator"))) {
        from = 8;
        if (method.mid(from).startsWith(QLatin1String("()")))
            from += 2;
        else
            while (from < method.size() && QStringLiteral("<>=!+-*/%^&|~,[]").contains(method[from]))
                ++from;
    }
    for (qsizetype i = from; i < method.size(); ++i) {
        const QChar c = method[i];
        if (c == QLatin1Char('<'))
            ++depth;
        else if (c == QLatin1Char('>') && depth > 0)
            --depth;
        else if (c == QLatin1Char('(') && depth == 0)
            return i;
    }
    return -1;
}

} // namespace

QString prettifySymbol(const QString& name)
{
    if (!name.contains(u'<') && !name.contains(QLatin1String("std::__")) && !name.contains(QLatin1String("[abi:")))
        return name;
    QString in = name;
    // GCC's ABI tags ("[abi:cxx11]" on whatever returns a std::string) say nothing to a reader.
    static const QRegularExpression abiTag(QStringLiteral("\\[abi:[A-Za-z0-9_]+\\]"));
    in.remove(abiTag);
    in.replace(QLatin1String("std::__cxx11::"), QLatin1String("std::"));
    in.replace(QLatin1String("std::__1::"), QLatin1String("std::"));
    for (const char* string : { "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
             "std::basic_string<char, std::char_traits<char>, std::allocator<char>>", "std::basic_string<char>" })
        in.replace(QLatin1String(string), QLatin1String("std::string"));
    for (const char* view : { "std::basic_string_view<char, std::char_traits<char> >",
             "std::basic_string_view<char, std::char_traits<char>>", "std::basic_string_view<char>" })
        in.replace(QLatin1String(view), QLatin1String("std::string_view"));

    QString out;
    out.reserve(in.size());
    int depth = 0;
    for (qsizetype i = 0; i < in.size(); ++i) {
        const QChar c = in.at(i);
        if (depth == 0) {
            if (c == u'<' && !isOperatorChar(in, i)) {
                depth = 1;
                out += QLatin1String("<...>");
                continue;
            }
            out += c;
            continue;
        }
        // Inside template arguments: only their nesting matters ("->" in a decltype is no closer).
        if (c == u'<')
            ++depth;
        else if (c == u'>' && in.at(i - 1) != u'-')
            --depth;
    }
    return depth == 0 ? out : name; // unbalanced: not a name we understand
}

qsizetype methodNameStart(const QString& name)
{
    int depth = 0;
    qsizetype start = 0;
    qsizetype previousStart = 0;
    for (qsizetype i = 0; i < name.size(); ++i) {
        const QChar c = name.at(i);
        if (c == u'<' || c == u'>') {
            if (isOperatorChar(name, i))
                continue;
            depth += c == u'<' ? 1 : (c == u'>' && i > 0 && name.at(i - 1) == u'-' ? 0 : -1);
            continue;
        }
        if (c == u'{' || c == u'[') {
            ++depth;
            continue;
        }
        if (c == u'}' || c == u']') {
            --depth;
            continue;
        }
        if (depth > 0)
            continue;
        if (c == u'(') {
            if (name.mid(i).startsWith(QLatin1String("(anonymous namespace)"))) {
                i += qsizetype(sizeof("(anonymous namespace)")) - 2;
                continue;
            }
            if (endsWithOperator(name.left(i)) && name.mid(i).startsWith(QLatin1String("()"))) {
                ++i; // operator()
                continue;
            }
            break; // the parameters
        }
        if (c == u':' && i + 1 < name.size() && name.at(i + 1) == u':') {
            previousStart = start;
            start = i + 2;
            ++i;
        } else if (c == u' ' && !endsWithOperator(name.left(i))) {
            previousStart = start;
            start = i + 1; // after a return type
        }
    }
    // A lambda's call operator says nothing alone: keep the lambda with it.
    if (name.mid(start).startsWith(QLatin1String("operator()")) && name.mid(previousStart).startsWith(u'{'))
        return previousStart;
    return start;
}

QString elideSymbol(const QString& name, const QFontMetrics& metrics, int width)
{
    if (width <= 0)
        return {};
    if (metrics.horizontalAdvance(name) <= width)
        return name;
    const QString ellipsis(QChar(0x2026));
    const qsizetype start = methodNameStart(name);
    const QString tail = name.mid(start);
    const int room = width - metrics.horizontalAdvance(tail) - metrics.horizontalAdvance(ellipsis);
    if (start == 0 || room < 0) {
        // The method's name before its arguments: "computeDiscounts(…)", then cut on its right.
        const qsizetype open = parametersStart(tail);
        const QString shortTail = open > 0 ? tail.left(open) + QLatin1Char('(') + ellipsis + QLatin1Char(')') : tail;
        return metrics.horizontalAdvance(shortTail) <= width ? shortTail
                                                             : metrics.elidedText(shortTail, Qt::ElideRight, width);
    }
    // The longest start of the name that fits the room left.
    qsizetype low = 0;
    qsizetype high = start;
    while (low < high) {
        const qsizetype mid = (low + high + 1) / 2;
        if (metrics.horizontalAdvance(name.left(mid)) <= room)
            low = mid;
        else
            high = mid - 1;
    }
    // Kerning may make the whole a pixel wider than its parts.
    while (low > 0 && metrics.horizontalAdvance(name.left(low) + ellipsis + tail) > width)
        --low;
    return name.left(low) + ellipsis + tail;
}

} // namespace perfdash
