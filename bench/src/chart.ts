/**
 * A small-multiples bar chart as SVG (no dependencies): one panel per measure,
 * one bar per system with its median, a whisker to its p99 when there is one.
 */

export interface Bar {
  system: string;
  value: number;
  p99?: number | undefined;
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  /** Lower is better (default) or higher is better, shown in the subtitle. */
  better?: "lower" | "higher";
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
  const panelWidth = 460;
  const barHeight = 22;
  const gap = 8;
  const labelWidth = 150;
  const heights = panels.map((p) => 56 + p.bars.length * (barHeight + gap));
  const rows = Math.ceil(panels.length / columns);
  const rowHeights = Array.from({ length: rows }, (_, r) =>
    Math.max(...heights.slice(r * columns, r * columns + columns)),
  );
  const width = columns * panelWidth + 20;
  const height = 50 + rowHeights.reduce((a, b) => a + b, 0) + 10;
  const systems = [...new Set(panels.flatMap((p) => p.bars.map((b) => b.system)))];
  const color = (system: string): string =>
    palette[systems.indexOf(system) % palette.length] ?? "#333";

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="28" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const x0 = 10 + (i % columns) * panelWidth;
    const row = Math.floor(i / columns);
    const y0 = 46 + rowHeights.slice(0, row).reduce((a, b) => a + b, 0);
    const max = Math.max(...panel.bars.map((b) => Math.max(b.value, b.p99 ?? 0)), Number.MIN_VALUE);
    const scale = (panelWidth - labelWidth - 80) / max;
    out.push(`<text x="${x0}" y="${y0 + 14}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    out.push(
      `<text x="${x0}" y="${y0 + 30}" fill="#555" font-size="11">${escapeXml(panel.unit)}, ${panel.better ?? "lower"} is better${panel.bars.some((b) => b.p99 !== undefined) ? "; whisker: p99" : ""}</text>`,
    );
    panel.bars.forEach((bar, j) => {
      const y = y0 + 40 + j * (barHeight + gap);
      const w = Math.max(1, bar.value * scale);
      out.push(`<text x="${x0}" y="${y + 15}">${escapeXml(bar.system)}</text>`);
      out.push(
        `<rect x="${x0 + labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color(bar.system)}" rx="3"/>`,
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
      out.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}">${format(bar.value)}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
