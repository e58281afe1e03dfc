import { Card, CardContent, CardHeader, Grid, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { Link, Title, useNotify } from 'react-admin';
import { api } from './api.ts';
import { BarChart, StockBars } from './charts.tsx';

interface Hourly {
  date: string;
  hours: { hour: number; orders: number; units: number }[];
}

interface LowStock {
  id: string;
  name: string;
  stock: number;
  held: number;
}

export function Dashboard() {
  const notify = useNotify();
  const [hourly, setHourly] = useState<Hourly>();
  const [low, setLow] = useState<LowStock[]>();
  useEffect(() => {
    // Today in UTC: the hours the API counts in.
    const date = new Date().toISOString().slice(0, 10);
    api<Hourly>(`/api/orders/stats/hourly/?date=${date}`).then(setHourly, (e: Error) => notify(e.message, { type: 'error' }));
    // Without max_stock: the server's low-stock line (LOW_STOCK_LINE), the one inventory.low_stock webhooks use.
    api<LowStock[]>(`/api/catalog/inventory/low/?limit=10`).then(setLow, (e: Error) => notify(e.message, { type: 'error' }));
  }, [notify]);
  const label = (h: number) => `${String(h).padStart(2, '0')}:00`;
  const totals = hourly?.hours.reduce((t, h) => ({ orders: t.orders + h.orders, units: t.units + h.units }), { orders: 0, units: 0 });
  return (
    <>
      <Title title="Dashboard" />
      <Grid container spacing={2} sx={{ mt: 1 }}>
        <Grid size={{ xs: 12, lg: 6 }}>
          <Card>
            <CardHeader title="Orders per hour today (UTC)" subheader={totals ? `${totals.orders} orders so far` : 'Loading…'} />
            <CardContent>{hourly && <BarChart title="Orders per hour today" bars={hourly.hours.map((h) => ({ label: label(h.hour), value: h.orders }))} />}</CardContent>
          </Card>
        </Grid>
        <Grid size={{ xs: 12, lg: 6 }}>
          <Card>
            <CardHeader title="Units sold per hour today (UTC)" subheader={totals ? `${totals.units} units so far` : 'Loading…'} />
            <CardContent>{hourly && <BarChart title="Units sold per hour today" bars={hourly.hours.map((h) => ({ label: label(h.hour), value: h.units }))} />}</CardContent>
          </Card>
        </Grid>
        <Grid size={12}>
          <Card>
            <CardHeader title="Low stock (at or below the low-stock line)" subheader="Darker part: units held in carts" />
            <CardContent>
              {low && low.length === 0 && <Typography>No product is low on stock.</Typography>}
              {low && low.length > 0 && <StockBars title="Products lowest on stock" rows={low.map((p) => ({ label: p.name, stock: p.stock, held: p.held }))} />}
              <Typography variant="body2" sx={{ mt: 1 }}>
                <Link to="/stock">Manage stock</Link>
              </Typography>
            </CardContent>
          </Card>
        </Grid>
      </Grid>
    </>
  );
}
