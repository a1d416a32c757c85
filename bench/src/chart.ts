/**
 * A small-multiples bar chart as SVG (no dependencies): one panel per measure,
 * one bar per system with its median, a whisker to its p99 when there is one.
 */

export interface Bar {
  system: string;
  value: number;
  p99?: number | undefined;
  /** Bars of one group share a colour across panels (default: the system's name). */
  group?: string | undefined;
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  /** Lower is better (default) or higher is better, shown in the subtitle. */
  better?: "lower" | "higher";
  /** Target values, drawn as dashed lines across the bars, labelled below them. */
  targets?: { value: number; label: string }[];
}

const palette = ["#1a73e8", "#e8710a", "#188038", "#9334e6", "#d93025", "#5f6368"];

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] ?? c,
  );
}

function format(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return v.toFixed(2);
}

export function renderChart(title: string, panels: readonly Panel[], columns = 2): string {
  const barHeight = 22;
  const gap = 8;
  // Wide enough for the longest label (about 6.6 px per character at 12 px).
  const longest = Math.max(0, ...panels.flatMap((p) => p.bars.map((b) => b.system.length)));
  const labelWidth = Math.max(150, Math.ceil(longest * 6.6) + 12);
  const panelWidth = labelWidth + 310;
  const heights = panels.map(
    (p) => 56 + p.bars.length * (barHeight + gap) + (p.targets?.length ?? 0) * 14,
  );
  const rows = Math.ceil(panels.length / columns);
  const rowHeights = Array.from({ length: rows }, (_, r) =>
    Math.max(...heights.slice(r * columns, r * columns + columns)),
  );
  const width = columns * panelWidth + 20;
  const height = 50 + rowHeights.reduce((a, b) => a + b, 0) + 10;
  const groups = [...new Set(panels.flatMap((p) => p.bars.map((b) => b.group ?? b.system)))];
  const color = (bar: Bar): string =>
    palette[groups.indexOf(bar.group ?? bar.system) % palette.length] ?? "#333";

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="28" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  if (panels.some((p) => p.bars.some((b) => b.group !== undefined))) {
    let lx = width - 20 - groups.reduce((a, g) => a + 30 + g.length * 6.6, 0);
    for (const g of groups) {
      out.push(
        `<rect x="${lx.toFixed(1)}" y="16" width="12" height="12" fill="${palette[groups.indexOf(g) % palette.length] ?? "#333"}" rx="2"/>`,
      );
      out.push(`<text x="${(lx + 16).toFixed(1)}" y="27">${escapeXml(g)}</text>`);
      lx += 30 + g.length * 6.6;
    }
  }
  panels.forEach((panel, i) => {
    const x0 = 10 + (i % columns) * panelWidth;
    const row = Math.floor(i / columns);
    const y0 = 46 + rowHeights.slice(0, row).reduce((a, b) => a + b, 0);
    const targets = (panel.targets ?? []).filter((t) => Number.isFinite(t.value));
    const max = Math.max(
      ...panel.bars.map((b) => Math.max(b.value, b.p99 ?? 0)),
      ...targets.map((t) => t.value),
      Number.MIN_VALUE,
    );
    const scale = (panelWidth - labelWidth - 80) / max;
    out.push(`<text x="${x0}" y="${y0 + 14}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    out.push(
      `<text x="${x0}" y="${y0 + 30}" fill="#555" font-size="11">${escapeXml(panel.unit)}, ${panel.better ?? "lower"} is better${panel.bars.some((b) => b.p99 !== undefined) ? "; whisker: p99" : ""}</text>`,
    );
    // Target lines first, so that bars and their values are drawn over them.
    const bottom = y0 + 40 + panel.bars.length * (barHeight + gap) - gap;
    // Every line before any label, so that no line crosses another target's label.
    const tx = (t: { value: number }): string => (x0 + labelWidth + t.value * scale).toFixed(1);
    targets.forEach((t, k) => {
      out.push(
        `<line x1="${tx(t)}" y1="${y0 + 36}" x2="${tx(t)}" y2="${bottom + 4 + k * 14}" stroke="#d93025" stroke-dasharray="4 3"/>`,
      );
    });
    targets.forEach((t, k) => {
      out.push(
        `<text x="${tx(t)}" y="${bottom + 14 + k * 14}" fill="#d93025" font-size="10" stroke="#fff" stroke-width="3" paint-order="stroke"> ${escapeXml(t.label)}</text>`,
      );
    });
    panel.bars.forEach((bar, j) => {
      const y = y0 + 40 + j * (barHeight + gap);
      const w = Math.max(1, bar.value * scale);
      out.push(`<text x="${x0}" y="${y + 15}">${escapeXml(bar.system)}</text>`);
      out.push(
        `<rect x="${x0 + labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color(bar)}" rx="3"/>`,
      );
      if (bar.p99 !== undefined && Number.isFinite(bar.p99)) {
        const px = x0 + labelWidth + bar.p99 * scale;
        out.push(
          `<line x1="${x0 + labelWidth + w}" y1="${y + barHeight / 2}" x2="${px.toFixed(1)}" y2="${y + barHeight / 2}" stroke="#333"/>`,
        );
        out.push(
          `<line x1="${px.toFixed(1)}" y1="${y + 5}" x2="${px.toFixed(1)}" y2="${y + barHeight - 5}" stroke="#333"/>`,
        );
      }
      const labelX = x0 + labelWidth + Math.max(w, (bar.p99 ?? 0) * scale) + 6;
      // A white halo keeps the value readable where a target line crosses it.
      out.push(
        `<text x="${labelX.toFixed(1)}" y="${y + 15}" stroke="#fff" stroke-width="3" paint-order="stroke">${format(bar.value)}</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
