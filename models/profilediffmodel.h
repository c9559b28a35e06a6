// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/captureprofiles.h"

#include <QAbstractTableModel>

namespace perfdash {

/// The differential profile of two captures: per process and function, its share of the samples in each run.
class ProfileDiffModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Process, Function, SelfBase, SelfNew, SelfChange, TotalBase, TotalNew, ColumnCount };
    static constexpr int SortRole = Qt::UserRole;

    explicit ProfileDiffModel(QObject* parent = nullptr);
    void setChanges(QList<ProfileShareChange> changes);
    const QList<ProfileShareChange>& changes() const { return m_changes; }
    /// What the two profiles are called in the headers ("base" and "new" by default; the profile
    /// view's slow-vs-typical scope: "typical" and "slow").
    void setLabels(const QString& base, const QString& next);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<ProfileShareChange> m_changes;
    QString m_base = tr("base");
    QString m_next = tr("new");
};

} // namespace perfdash
