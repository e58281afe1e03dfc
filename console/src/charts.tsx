/**
 * Small charts drawn as SVG by React: a handful of bars needs no chart library. Each chart is an
 * image with a text alternative (role="img", aria-label, <title>), so a screen reader gets the
 * numbers the picture shows.
 */
import { Box, Typography, useTheme } from '@mui/material';

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

/**
 * One row per product: the shelf stock as a bar, the part held in carts darker. Rows are HTML
 * (a list, its text readable by anyone) with the bars drawn beside the words and hidden from
 * screen readers, which read the figures instead.
 */
export function StockBars({ rows, title }: { rows: StockBar[]; title: string }) {
  const theme = useTheme();
  const max = Math.max(1, ...rows.map((r) => r.stock));
  const percent = (v: number) => `${Math.max(0.5, (100 * v) / max)}%`;
  return (
    <Box component="ul" aria-label={title} sx={{ listStyle: 'none', p: 0, m: 0, display: 'grid', gap: 1 }}>
      {rows.map((row, i) => (
        <Box component="li" key={`${row.label}-${i}`} sx={{ display: 'grid', gridTemplateColumns: 'minmax(8rem, 16rem) 1fr', gap: 2, alignItems: 'center' }}>
          <Typography variant="body2" noWrap title={row.label}>
            {row.label}
          </Typography>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
            <Box aria-hidden sx={{ position: 'relative', flex: 1, height: 14 }}>
              <Box sx={{ position: 'absolute', inset: 0, width: percent(row.stock), bgcolor: row.stock === 0 ? 'error.main' : 'warning.main', borderRadius: 0.5 }} />
              {row.held > 0 && <Box sx={{ position: 'absolute', inset: 0, width: percent(Math.min(row.held, row.stock)), bgcolor: theme.palette.grey[800], opacity: 0.6, borderRadius: 0.5 }} />}
            </Box>
            <Typography variant="body2" color="text.secondary" sx={{ minWidth: '7rem' }}>
              {row.stock} in stock{row.held > 0 ? `, ${row.held} held` : ''}
            </Typography>
          </Box>
        </Box>
      ))}
    </Box>
  );
}
