/**
 * Small charts drawn as SVG by React: a handful of bars needs no chart library. Each chart is an
 * image with a text alternative (role="img", aria-label, <title>), so a screen reader gets the
 * numbers the picture shows.
 */
import { useTheme } from '@mui/material';

export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ bars, title, height = 200 }: { bars: Bar[]; title: string; height?: number }) {
  const theme = useTheme();
  // About the width the chart is drawn at on a laptop, so its 11px labels stay legible.
  const width = 480;
  const pad = { top: 16, right: 8, bottom: 28, left: 36 };
  const max = Math.max(1, ...bars.map((b) => b.value));
  const step = (width - pad.left - pad.right) / Math.max(1, bars.length);
  const scale = (v: number) => ((height - pad.top - pad.bottom) * v) / max;
  const summary = bars.filter((b) => b.value > 0).map((b) => `${b.label}: ${b.value}`).join(', ') || 'none yet';
  return (
    <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`${title}. ${summary}`}>
      <title>{`${title}. ${summary}`}</title>
      <line x1={pad.left} x2={width - pad.right} y1={height - pad.bottom} y2={height - pad.bottom} stroke={theme.palette.divider} />
      <text x={pad.left - 6} y={pad.top + 4} textAnchor="end" fontSize="11" fill={theme.palette.text.secondary}>
        {max}
      </text>
      <text x={pad.left - 6} y={height - pad.bottom} textAnchor="end" fontSize="11" fill={theme.palette.text.secondary}>
        0
      </text>
      {bars.map((bar, i) => {
        const h = scale(bar.value);
        const x = pad.left + i * step + step * 0.15;
        return (
          <g key={bar.label}>
            <rect x={x} y={height - pad.bottom - h} width={step * 0.7} height={h} fill={theme.palette.primary.main} rx={2}>
              <title>{`${bar.label}: ${bar.value}`}</title>
            </rect>
            {i % 3 === 0 && (
              <text x={x + step * 0.35} y={height - pad.bottom + 16} textAnchor="middle" fontSize="11" fill={theme.palette.text.secondary}>
                {bar.label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

export interface StockBar {
  label: string;
  stock: number;
  held: number;
}

/** One row per product: the shelf stock as a bar, the part held in carts shaded. */
export function StockBars({ rows, title }: { rows: StockBar[]; title: string }) {
  const theme = useTheme();
  const width = 900;
  const rowHeight = 26;
  const labelWidth = 260;
  const max = Math.max(1, ...rows.map((r) => r.stock));
  const barWidth = (v: number) => ((width - labelWidth - 60) * v) / max;
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const summary = rows.map((r) => `${r.label}: ${r.stock} in stock, ${r.held} held`).join('; ') || 'no product is low';
  return (
    <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`${title}. ${summary}`}>
      <title>{`${title}. ${summary}`}</title>
      {rows.map((row, i) => {
        const y = i * rowHeight + 4;
        return (
          <g key={`${row.label}-${i}`}>
            <text x={labelWidth - 8} y={y + 15} textAnchor="end" fontSize="12" fill={theme.palette.text.primary}>
              {row.label.length > 34 ? `${row.label.slice(0, 33)}…` : row.label}
            </text>
            <rect x={labelWidth} y={y} width={Math.max(2, barWidth(row.stock))} height={rowHeight - 8} fill={row.stock === 0 ? theme.palette.error.main : theme.palette.warning.main} rx={2} />
            <rect x={labelWidth} y={y} width={barWidth(Math.min(row.held, row.stock))} height={rowHeight - 8} fill={theme.palette.grey[700]} opacity={0.5} rx={2} />
            <text x={labelWidth + Math.max(2, barWidth(row.stock)) + 6} y={y + 15} fontSize="12" fill={theme.palette.text.secondary}>
              {row.held > 0 ? `${row.stock} (${row.held} held)` : row.stock}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
