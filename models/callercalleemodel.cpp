// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/callercalleemodel.h"
#include "models/format.h"
#include "models/symbolprettifier.h"

#include <algorithm>

namespace perfdash {

CallerCalleeModel::CallerCalleeModel(Kind kind, QObject* parent)
    : QAbstractTableModel(parent)
    , m_kind(kind)
{
}

void CallerCalleeModel::setCallerCallee(CallerCalleePtr data)
{
    m_data = std::move(data);
    rebuild();
}

void CallerCalleeModel::setFunction(const QString& name)
{
    m_function = name;
    rebuild();
}

QString CallerCalleeModel::nameOf(std::uint32_t function) const
{
    if (function == FunctionCallers::kRoot)
        return m_data && m_data->snapshot ? tr("[%1: the process]").arg(m_data->snapshot->process) : QString();
    return m_data->snapshot->functions[function].name;
}

void CallerCalleeModel::rebuild()
{
    beginResetModel();
    m_rows.clear();
    m_functionTotal = 0;
    if (m_data && m_data->snapshot) {
        const auto& functions = m_data->functions;
        if (m_kind == Kind::Functions) {
            for (std::uint32_t f = 0; f < functions.size(); ++f) {
                if (functions[f].total > 0)
                    m_rows.push_back({ f, functions[f].total, functions[f].self });
            }
        } else {
            // Every function of that name (one name may come from two modules): their callers or callees together.
            std::map<std::uint32_t, std::uint64_t> merged;
            for (std::uint32_t f = 0; f < functions.size(); ++f) {
                if (functions[f].total == 0 || m_data->snapshot->functions[f].name != m_function)
                    continue;
                m_functionTotal += functions[f].total;
                for (const auto& [other, samples] :
                    m_kind == Kind::Callers ? functions[f].callers : functions[f].callees)
                    merged[other] += samples;
            }
            for (const auto& [other, samples] : merged)
                m_rows.push_back({ other, samples, 0 });
        }
        std::sort(m_rows.begin(), m_rows.end(), [&](const Row& a, const Row& b) {
            return a.samples != b.samples ? a.samples > b.samples : nameOf(a.function) < nameOf(b.function);
        });
    }
    endResetModel();
}

int CallerCalleeModel::rowOf(const QString& name) const
{
    for (std::size_t row = 0; row < m_rows.size(); ++row) {
        if (nameOf(m_rows[row].function) == name)
            return int(row);
    }
    return -1;
}

int CallerCalleeModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int CallerCalleeModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : (m_kind == Kind::Functions ? int(ColumnCount) : int(Self));
}

QVariant CallerCalleeModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount())
        return {};
    const Row& row = m_rows[std::size_t(index.row())];
    const QString name = nameOf(row.function);
    if (role == FunctionRole)
        return quint64(row.function);
    if (role == FullNameRole || (role == Qt::ToolTipRole && index.column() == Function))
        return name;
    if (role == Qt::TextAlignmentRole)
        return index.column() == Function ? QVariant() : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const auto amount = [&](std::uint64_t count) -> QVariant {
        if (role == SortRole || !hasProfileUnit(*m_data->snapshot))
            return quint64(count);
        return formatProfileAmount(*m_data->snapshot, count);
    };
    // Functions: shares of all the samples; callers and callees: of the selected function's total.
    const std::uint64_t whole = m_kind == Kind::Functions ? m_data->snapshot->totalSamples() : m_functionTotal;
    const auto share = [&](std::uint64_t count) -> QVariant {
        const double value = double(count) / double(std::max<std::uint64_t>(1, whole));
        return role == SortRole ? QVariant(value) : QVariant(QStringLiteral("%1%").arg(100.0 * value, 0, 'f', 1));
    };
    switch (index.column()) {
    case Function:
        return role == SortRole ? name : prettifySymbol(name);
    case Samples:
        return amount(row.samples);
    case Share:
        return share(row.samples);
    case Self:
        return amount(row.self);
    case SelfPercent:
        return share(row.self);
    default:
        return {};
    }
}

QVariant CallerCalleeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Function:
        return m_kind == Kind::Functions ? tr("Function") : m_kind == Kind::Callers ? tr("Caller") : tr("Callee");
    case Samples:
        return m_kind == Kind::Functions ? tr("Total") : tr("Samples");
    case Share:
        return m_kind == Kind::Functions ? tr("Total %") : tr("Share");
    case Self:
        return tr("Self");
    case SelfPercent:
        return tr("Self %");
    default:
        return {};
    }
}

} // namespace perfdash
