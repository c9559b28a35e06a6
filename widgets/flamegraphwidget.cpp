// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/flamegraphwidget.h"

#include "models/format.h"
#include "models/symbolprettifier.h"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QKeyEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace perfdash {

FlameGraphWidget::FlameGraphWidget(QWidget* parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    setMinimumHeight(120);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void FlameGraphWidget::setDifferentialLabels(const QString& base, const QString& next)
{
    m_baseLabel = base;
    m_nextLabel = next;
}

void FlameGraphWidget::setProcessName(const QString& name)
{
    if (name == m_processName)
        return;
    m_processName = name;
    update();
}

void FlameGraphWidget::setInverted(bool inverted)
{
    if (inverted == m_inverted)
        return;
    m_inverted = inverted;
    layout();
}

QString FlameGraphWidget::displayName(std::uint32_t node) const
{
    if (!m_snapshot || node >= m_snapshot->nodes.size())
        return {};
    if (node == 0)
        return m_processName.isEmpty() ? m_snapshot->process : m_processName;
    const std::uint32_t function = m_snapshot->nodes[node].function;
    if (m_pretty.size() != m_snapshot->functions.size())
        m_pretty.assign(m_snapshot->functions.size(), QString());
    QString& pretty = m_pretty[function];
    if (pretty.isNull())
        pretty = prettifySymbol(m_snapshot->functions[function].name);
    return pretty;
}

double FlameGraphWidget::rowTop(int depth) const
{
    return m_inverted ? double(depth) * kRowHeight : double(height()) - double(depth + 1) * kRowHeight;
}

void FlameGraphWidget::updateDepth()
{
    // The rows of the zoomed frame's ancestors and of its deepest callee: the height the graph needs.
    int depth = 1;
    if (m_snapshot && !m_snapshot->nodes.empty()) {
        int ancestors = 0;
        for (std::uint32_t at = m_zoomNode; at != 0; at = m_snapshot->nodes[at].parent)
            ++ancestors;
        std::vector<std::pair<std::uint32_t, int>> todo { { m_zoomNode, ancestors + 1 } };
        while (!todo.empty()) {
            const auto [node, rows] = todo.back();
            todo.pop_back();
            depth = std::max(depth, rows);
            for (std::uint32_t child : m_snapshot->nodes[node].children)
                todo.push_back({ child, rows + 1 });
        }
    }
    m_depth = depth;
    // One empty row above the deepest frame; 120 px at least, as before.
    setMinimumHeight(std::max(120, (depth + 1) * kRowHeight));
}

std::vector<double> differentialShares(const ProfileSnapshot& profile, const ProfileSnapshot& baseline)
{
    std::vector<double> delta(profile.nodes.size(), 0.0);
    if (profile.nodes.empty())
        return delta;
    const double total = double(std::max<std::uint64_t>(1, profile.totalSamples()));
    const double baseTotal = double(std::max<std::uint64_t>(1, baseline.totalSamples()));
    const auto name = [](const ProfileSnapshot& s, std::uint32_t node) -> const QString& {
        return s.functions[s.nodes[node].function].name;
    };
    constexpr std::uint32_t none = std::uint32_t(-1);
    // Both trees walked together from their roots: a frame's twin is the baseline's child of its
    // parent's twin with the same name (function ids are per snapshot, names are not).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> todo { { 0, baseline.nodes.empty() ? none : 0 } };
    while (!todo.empty()) {
        const auto [node, twin] = todo.back();
        todo.pop_back();
        const double base = twin == none ? 0.0 : double(baseline.nodes[twin].total) / baseTotal;
        delta[node] = node == 0 ? 0.0 : double(profile.nodes[node].total) / total - base;
        for (std::uint32_t child : profile.nodes[node].children) {
            std::uint32_t match = none;
            if (twin != none) {
                for (std::uint32_t candidate : baseline.nodes[twin].children) {
                    if (name(baseline, candidate) == name(profile, child)) {
                        match = candidate;
                        break;
                    }
                }
            }
            todo.push_back({ child, match });
        }
    }
    return delta;
}

void FlameGraphWidget::setEmptyText(const QString& text)
{
    m_emptyText = text;
    update();
}

void FlameGraphWidget::setDifferential(
    ProfileSnapshotPtr profile, ProfileSnapshotPtr baseline, std::vector<double> shareDelta)
{
    m_baseline = std::move(baseline);
    m_delta = std::move(shareDelta);
    if (!profile || m_delta.size() != profile->nodes.size())
        m_delta.assign(profile ? profile->nodes.size() : 0, 0.0);
    m_maxDelta = 0;
    for (double d : m_delta)
        m_maxDelta = std::max(m_maxDelta, std::abs(d));
    setSnapshotKeepingBaseline(std::move(profile));
}

double FlameGraphWidget::shareDelta(std::uint32_t node) const
{
    return node < m_delta.size() ? m_delta[node] : 0.0;
}

QColor FlameGraphWidget::frameColor(std::uint32_t node) const
{
    if (!m_snapshot || node >= m_snapshot->nodes.size())
        return {};
    if (m_baseline) {
        // White when unchanged, deeper red (gain) or blue (loss) with the size of the change,
        // relative to the largest one in the graph; a change under 0.1 point stays white.
        const double d = shareDelta(node);
        const double t = std::abs(d) < 0.001 || m_maxDelta <= 0 ? 0.0 : std::clamp(std::abs(d) / m_maxDelta, 0.15, 1.0);
        const int fade = int(std::lround(255 - 190 * t));
        return d > 0 ? QColor(255, fade, fade) : QColor(fade, fade, 255);
    }
    const QString& name
        = node == 0 ? m_snapshot->process : m_snapshot->functions[m_snapshot->nodes[node].function].name;
    // Warm colours from the name: the same function has the same colour in every snapshot.
    const uint hash = qHash(name);
    return QColor::fromHsv(int(hash % 50), 120 + int(hash / 50 % 80), 230);
}

void FlameGraphWidget::setSnapshot(ProfileSnapshotPtr snapshot)
{
    m_baseline.reset();
    m_delta.clear();
    m_maxDelta = 0;
    setSnapshotKeepingBaseline(std::move(snapshot));
}

void FlameGraphWidget::setSnapshotKeepingBaseline(ProfileSnapshotPtr snapshot)
{
    if (!m_snapshot || !snapshot || m_snapshot->functions.size() != snapshot->functions.size())
        m_pretty.clear();
    else
        std::fill(m_pretty.begin(), m_pretty.end(), QString()); // ids are per snapshot
    m_snapshot = std::move(snapshot);
    // The zoom is a path of functions: find it again in the new tree, as deep as it still goes.
    m_zoomNode = 0;
    if (m_snapshot && !m_snapshot->nodes.empty()) {
        for (std::uint32_t function : m_zoomPath) {
            const auto& children = m_snapshot->nodes[m_zoomNode].children;
            const auto it = std::find_if(children.begin(), children.end(),
                [&](std::uint32_t child) { return m_snapshot->nodes[child].function == function; });
            if (it == children.end())
                break;
            m_zoomNode = *it;
        }
    }
    updateDepth();
    layout();
}

void FlameGraphWidget::setSearch(const QString& text)
{
    m_search = text.trimmed();
    layout();
}

void FlameGraphWidget::zoomTo(std::uint32_t node)
{
    if (!m_snapshot || node >= m_snapshot->nodes.size())
        node = 0;
    m_zoomNode = node;
    m_zoomPath.clear();
    for (std::uint32_t at = node; m_snapshot && at != 0; at = m_snapshot->nodes[at].parent)
        m_zoomPath.insert(m_zoomPath.begin(), m_snapshot->nodes[at].function);
    updateDepth();
    layout();
    Q_EMIT zoomChanged(m_zoomNode);
}

bool FlameGraphWidget::matches(std::uint32_t node) const
{
    return !m_search.isEmpty() && node != 0
        && m_snapshot->functions[m_snapshot->nodes[node].function].name.contains(m_search, Qt::CaseInsensitive);
}

void FlameGraphWidget::layout()
{
    m_boxes.clear();
    m_matched = 0;
    m_hovered = -1;
    if (!m_snapshot || m_snapshot->nodes.empty() || m_snapshot->nodes[m_zoomNode].total == 0) {
        update();
        Q_EMIT searchMatched(0, 0);
        return;
    }
    const auto& nodes = m_snapshot->nodes;
    const double scale = double(width()) / double(nodes[m_zoomNode].total);
    // The zoomed frame's ancestors are drawn full width below it, so that a click on one zooms out.
    std::vector<std::uint32_t> ancestors;
    for (std::uint32_t at = m_zoomNode; at != 0; at = nodes[at].parent)
        ancestors.insert(ancestors.begin(), at);
    ancestors.insert(ancestors.begin(), 0);
    for (std::size_t depth = 0; depth + 1 < ancestors.size(); ++depth) {
        const double y = rowTop(int(depth));
        m_boxes.push_back({ QRectF(0, y, width(), kRowHeight - 1), ancestors[depth], matches(ancestors[depth]) });
    }
    struct Item
    {
        std::uint32_t node;
        double x;
        int depth;
    };
    std::vector<Item> todo { { m_zoomNode, 0.0, int(ancestors.size()) - 1 } };
    std::vector<std::uint32_t> children;
    while (!todo.empty()) {
        const Item item = todo.back();
        todo.pop_back();
        const CallNode& node = nodes[item.node];
        const double w = double(node.total) * scale;
        const double y = rowTop(item.depth);
        const bool matched = matches(item.node);
        if (w < 0.5) // too narrow to see or to point at; so are its callees
            continue;
        m_boxes.push_back({ QRectF(item.x, y, w, kRowHeight - 1), item.node, matched });
        children = node.children;
        std::sort(children.begin(), children.end(), [&](std::uint32_t a, std::uint32_t b) {
            return m_snapshot->functions[nodes[a].function].name < m_snapshot->functions[nodes[b].function].name;
        });
        double x = item.x;
        for (std::uint32_t child : children) {
            todo.push_back({ child, x, item.depth + 1 });
            x += double(nodes[child].total) * scale;
        }
    }
    // Counted on the tree, not on the boxes: matches too narrow to draw count too, and a match
    // inside a match (recursion) counts once.
    m_matched = 0;
    if (!m_search.isEmpty()) {
        if (std::any_of(ancestors.begin(), ancestors.end(), [&](std::uint32_t a) { return matches(a); })) {
            m_matched = nodes[m_zoomNode].total;
        } else {
            std::vector<std::uint32_t> walk { m_zoomNode };
            while (!walk.empty()) {
                const std::uint32_t n = walk.back();
                walk.pop_back();
                if (matches(n))
                    m_matched += nodes[n].total;
                else
                    walk.insert(walk.end(), nodes[n].children.begin(), nodes[n].children.end());
            }
        }
    }
    update();
    Q_EMIT searchMatched(m_matched, nodes[m_zoomNode].total);
}

qint64 FlameGraphWidget::nodeAt(const QPointF& position) const
{
    for (const Box& box : m_boxes) {
        if (box.rect.contains(position))
            return box.node;
    }
    return -1;
}

QRectF FlameGraphWidget::rectOf(std::uint32_t node) const
{
    for (const Box& box : m_boxes) {
        if (box.node == node)
            return box.rect;
    }
    return {};
}

QString FlameGraphWidget::toolTipFor(std::uint32_t node) const
{
    if (!m_snapshot || node >= m_snapshot->nodes.size())
        return {};
    const CallNode& n = m_snapshot->nodes[node];
    const double all = double(std::max<std::uint64_t>(1, m_snapshot->totalSamples()));
    const ProfileFunction* f = node == 0 ? nullptr : &m_snapshot->functions[n.function];
    QString text
        = f ? f->name.toHtmlEscaped() : tr("%1 (pid %2)").arg(displayName(0)).arg(m_snapshot->pid).toHtmlEscaped();
    text = QStringLiteral("<b>%1</b>").arg(text);
    if (f && !f->module.isEmpty())
        text += QStringLiteral("<br>") + tr("in %1").arg(f->module.toHtmlEscaped());
    if (f && !f->location.isEmpty())
        text += QStringLiteral("<br>") + f->location.toHtmlEscaped();
    if (f && f->inlined)
        text += QStringLiteral("<br>") + tr("(inlined)");
    const auto amount = [&](std::uint64_t count) { return formatProfileAmount(*m_snapshot, count, true); };
    text += QStringLiteral("<br>")
        + tr("total: %1 (%2%)").arg(amount(n.total)).arg(100.0 * double(n.total) / all, 0, 'f', 1);
    text += QStringLiteral("<br>")
        + tr("self: %1 (%2%)").arg(amount(n.self)).arg(100.0 * double(n.self) / all, 0, 'f', 1);
    if (m_baseline) {
        const double share = double(n.total) / all;
        const double d = shareDelta(node);
        text += QStringLiteral("<br>")
            + tr("share: %1% %2, %3% %4 (%5%6 pts)")
                  .arg(100.0 * share, 0, 'f', 1)
                  .arg(m_nextLabel.isEmpty() ? tr("slow") : m_nextLabel)
                  .arg(100.0 * (share - d), 0, 'f', 1)
                  .arg(m_baseLabel.isEmpty() ? tr("typical") : m_baseLabel)
                  .arg(d >= 0 ? QStringLiteral("+") : QString())
                  .arg(100.0 * d, 0, 'f', 1);
    }
    return text;
}

void FlameGraphWidget::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().base());
    if (m_boxes.empty()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignCenter, m_emptyText.isEmpty() ? tr("No samples in this range") : m_emptyText);
        return;
    }
    const QFontMetrics metrics(font());
    for (const Box& box : m_boxes) {
        const QString name = displayName(box.node);
        QColor color = frameColor(box.node);
        if (!m_search.isEmpty())
            color = box.matched ? QColor(214, 70, 200) : color.lighter(130).toHsv();
        if (!m_search.isEmpty() && !box.matched)
            color.setHsv(color.hue(), color.saturation() / 3, color.value());
        if (qint64(box.node) == m_hovered)
            color = color.darker(115);
        painter.fillRect(box.rect, color);
        if (m_baseline) { // unchanged frames are white: outline them
            painter.setPen(QColor(0, 0, 0, 40));
            painter.drawRect(box.rect.adjusted(0, 0, -0.5, 0));
        }
        if (box.rect.width() > 20) {
            painter.setPen(Qt::black);
            const QRectF text = box.rect.adjusted(3, 0, -3, 0);
            // An ellipsis with a letter or two says nothing: such a frame is left blank (hover names it).
            const QString shown = elideSymbol(name, metrics, int(text.width()));
            if (shown == name || shown.size() >= 4)
                painter.drawText(text, Qt::AlignVCenter | Qt::AlignLeft, shown);
        }
    }
}

void FlameGraphWidget::resizeEvent(QResizeEvent*)
{
    layout();
}

void FlameGraphWidget::mouseMoveEvent(QMouseEvent* event)
{
    const qint64 node = nodeAt(event->position());
    if (node != m_hovered) {
        m_hovered = node;
        update();
    }
    if (node >= 0)
        QToolTip::showText(event->globalPosition().toPoint(), toolTipFor(std::uint32_t(node)), this);
    else
        QToolTip::hideText();
}

void FlameGraphWidget::mousePressEvent(QMouseEvent* event)
{
    if (event->button() != Qt::LeftButton) // the right button opens the context menu
        return;
    const qint64 node = nodeAt(event->position());
    if (node < 0)
        return;
    // The zoomed frame again, or one of its ancestors: zoom out to it.
    zoomTo(
        node == qint64(m_zoomNode) && m_snapshot ? m_snapshot->nodes[std::uint32_t(node)].parent : std::uint32_t(node));
}

void FlameGraphWidget::keyPressEvent(QKeyEvent* event)
{
    if (event->key() == Qt::Key_Escape)
        resetZoom();
    else if (event->key() == Qt::Key_Backspace && m_snapshot && m_zoomNode != 0)
        zoomTo(m_snapshot->nodes[m_zoomNode].parent);
    else
        QWidget::keyPressEvent(event);
}

void FlameGraphWidget::contextMenuEvent(QContextMenuEvent* event)
{
    const qint64 at = nodeAt(event->pos());
    QMenu menu(this);
    if (at > 0 && m_snapshot) {
        const std::uint32_t node = std::uint32_t(at);
        const QString name = m_snapshot->functions[m_snapshot->nodes[node].function].name;
        menu.addAction(tr("Copy name"), this, [name] { QApplication::clipboard()->setText(name); });
        menu.addAction(tr("Zoom in"), this, [this, node] { zoomTo(node); });
        menu.addAction(
            tr("Focus on this function (every call merged)"), this, [this, name] { Q_EMIT focusRequested(name); });
        menu.addAction(tr("Show callers"), this, [this, name] { Q_EMIT callersRequested(name); });
        menu.addSeparator();
    }
    QAction* out = menu.addAction(tr("Zoom out one level\tBackspace"), this, [this] {
        if (m_snapshot && m_zoomNode != 0)
            zoomTo(m_snapshot->nodes[m_zoomNode].parent);
    });
    out->setEnabled(m_zoomNode != 0);
    menu.addAction(tr("Reset zoom\tEsc"), this, &FlameGraphWidget::resetZoom)->setEnabled(m_zoomNode != 0);
    menu.exec(event->globalPos());
}

void FlameGraphWidget::leaveEvent(QEvent*)
{
    m_hovered = -1;
    update();
}

} // namespace perfdash
