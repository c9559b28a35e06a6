// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QColor>
#include <QRectF>
#include <QWidget>

#include <vector>

namespace perfdash {

/**
 * A flame graph of one profile snapshot, drawn by hand: the process at the bottom, callees above
 * their callers (or hanging from the top, as an icicle: setInverted()), widths in proportion to
 * samples, siblings in name order so that a live graph does not jump around. Names are prettified
 * (template arguments as "<...>") and cut in the middle, keeping the method's name; the tooltip
 * has the whole name. Its height is the depth of the graph (at least what it is given): in a
 * scroll area, a deep graph scrolls. Click zooms into a frame (the path is kept across
 * snapshots), a click on the bottom bar, Backspace (one level) or Escape zooms out; the context
 * menu copies a name, focuses on a function or shows its callers; a search highlights matching
 * frames and says what share of the samples they hold; hovering shows self and total samples
 * with their percentages (or time off CPU, for an off-CPU snapshot). A differential graph (setDifferential()) draws one
 * profile with each frame coloured by how its share of the whole moved against another's, as Brendan Gregg's
 * differential flame graphs do: red where it gained, blue where it lost, white unchanged.
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
    /// What the two profiles of a differential are called in tooltips ("typical" and "slow" by default).
    void setDifferentialLabels(const QString& base, const QString& next);
    /// The name of the root frame (the process as the tables name it); the snapshot's by default.
    void setProcessName(const QString& name);
    /// Root at the top, callees below their callers (an icicle graph).
    void setInverted(bool inverted);
    bool isInverted() const { return m_inverted; }
    /// Rows the graph needs at the current zoom (the root's row included).
    int depth() const { return m_depth; }
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
    /// What the frame of @p node says (prettified, before elision).
    QString displayName(std::uint32_t node) const;

Q_SIGNALS:
    /// The context menu asked to focus on @p function (every call of it merged), or for its callers.
    void focusRequested(const QString& function);
    void callersRequested(const QString& function);
    /// The search matched this many samples of @p total.
    void searchMatched(quint64 matched, quint64 total);
    void zoomChanged(std::uint32_t node);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
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
    void updateDepth();
    bool matches(std::uint32_t node) const;
    double rowTop(int depth) const;

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
    QString m_processName;
    QString m_baseLabel;
    QString m_nextLabel;
    bool m_inverted = false;
    int m_depth = 1;
    mutable std::vector<QString> m_pretty; ///< by function id, prettified when first drawn
};

/**
 * Per node of @p profile, its share of @p profile's total minus the share of the same call path
 * (frames matched by name from the root) in @p baseline's total; a path @p baseline lacks counts
 * there as 0. Cheap enough for a worker at every refresh: one walk of @p profile.
 */
std::vector<double> differentialShares(const ProfileSnapshot& profile, const ProfileSnapshot& baseline);

} // namespace perfdash
