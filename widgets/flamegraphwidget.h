// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"

#include <QColor>
#include <QRectF>
#include <QWidget>

#include <vector>

namespace perfdash {

/**
 * A flame graph of one profile snapshot, drawn by hand: the process at the bottom, callees above
 * their callers, widths in proportion to samples, siblings in name order so that a live graph
 * does not jump around. Click zooms into a frame (the path is kept across snapshots), a click on
 * the bottom bar or Escape zooms out; a search highlights matching frames and says what share of
 * the samples they hold; hovering shows self and total samples with their percentages (or time
 * off CPU, for an off-CPU snapshot). A differential graph (setDifferential()) draws one profile
 * with each frame coloured by how its share of the whole moved against another's, as Brendan
 * Gregg's differential flame graphs do: red where it gained, blue where it lost, white unchanged.
 */
class FlameGraphWidget : public QWidget
{
    Q_OBJECT
public:
    explicit FlameGraphWidget(QWidget* parent = nullptr);

    void setSnapshot(ProfileSnapshotPtr snapshot);
    ProfileSnapshotPtr snapshot() const { return m_snapshot; }
    /// Draws @p profile coloured by @p shareDelta (differentialShares() of it against @p baseline).
    void setDifferential(ProfileSnapshotPtr profile, ProfileSnapshotPtr baseline, std::vector<double> shareDelta);
    bool isDifferential() const { return m_baseline != nullptr; }
    ProfileSnapshotPtr baseline() const { return m_baseline; }
    /// The differential's change of @p node's share (profile minus baseline, -1..1); 0 otherwise.
    double shareDelta(std::uint32_t node) const;
    /// The colour @p node is filled with (before search highlighting and hover).
    QColor frameColor(std::uint32_t node) const;
    /// What an empty graph says ("No samples in this range" by default).
    void setEmptyText(const QString& text);
    /// Case-insensitive substring; empty clears.
    void setSearch(const QString& text);
    /// Zooms into @p node of the current snapshot (0: the whole profile).
    void zoomTo(std::uint32_t node);
    void resetZoom() { zoomTo(0); }
    std::uint32_t zoomNode() const { return m_zoomNode; }

    /// The node drawn at @p position, -1 where there is none.
    qint64 nodeAt(const QPointF& position) const;
    /// Where @p node is drawn (empty if it is not: too narrow, or outside the zoom).
    QRectF rectOf(std::uint32_t node) const;
    /// What hovering @p node shows.
    QString toolTipFor(std::uint32_t node) const;
    /// Samples under frames that match the search (each sample once).
    std::uint64_t matchedSamples() const { return m_matched; }
    static constexpr int kRowHeight = 18;

    QSize sizeHint() const override { return { 600, 300 }; }

Q_SIGNALS:
    /// The search matched this many samples of @p total.
    void searchMatched(quint64 matched, quint64 total);
    void zoomChanged(std::uint32_t node);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    struct Box
    {
        QRectF rect;
        std::uint32_t node;
        bool matched;
    };
    void setSnapshotKeepingBaseline(ProfileSnapshotPtr snapshot);
    void layout();
    bool matches(std::uint32_t node) const;

    ProfileSnapshotPtr m_snapshot;
    ProfileSnapshotPtr m_baseline;
    std::vector<double> m_delta;
    double m_maxDelta = 0;
    QString m_emptyText;
    std::uint32_t m_zoomNode = 0;
    std::vector<std::uint32_t> m_zoomPath; ///< function ids from the root: survives a new snapshot
    QString m_search;
    std::vector<Box> m_boxes;
    std::uint64_t m_matched = 0;
    qint64 m_hovered = -1;
};

/**
 * Per node of @p profile, its share of @p profile's total minus the share of the same call path
 * (frames matched by name from the root) in @p baseline's total; a path @p baseline lacks counts
 * there as 0. Cheap enough for a worker at every refresh: one walk of @p profile.
 */
std::vector<double> differentialShares(const ProfileSnapshot& profile, const ProfileSnapshot& baseline);

} // namespace perfdash
