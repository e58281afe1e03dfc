import { Box, Chip, Table, TableBody, TableCell, TableHead, TableRow } from '@mui/material';
import { useState } from 'react';
import {
  Button,
  Confirm,
  Datagrid,
  DateField,
  FunctionField,
  List,
  SelectInput,
  TextField,
  TextInput,
  useDataProvider,
  useNotify,
  useRecordContext,
  useRefresh,
} from 'react-admin';
import type { dataProvider as ConsoleDataProvider } from './data-provider.ts';

interface Order {
  id: string;
  customer: string;
  status: 'pending' | 'confirmed' | 'shipped' | 'cancelled';
  total: string;
  created_at: string;
  cancel_reason: string | null;
  order_items: { product: string; name: string; quantity: number; price: string; line_total: string }[];
}

const STATUSES = ['pending', 'confirmed', 'shipped', 'cancelled'].map((s) => ({ id: s, name: s }));
const COLOURS = { pending: 'warning', confirmed: 'info', shipped: 'success', cancelled: 'default' } as const;

const filters = [
  <SelectInput key="status" source="status" label="Status" choices={STATUSES} alwaysOn emptyText="Any status" />,
  <TextInput key="customer" source="customer" label="Customer id" alwaysOn resettable />,
];

function OrderAction({ action }: { action: 'ship' | 'cancel' }) {
  const order = useRecordContext<Order>();
  const provider = useDataProvider<typeof ConsoleDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!order || order.status !== 'confirmed') return null;
  const run = async () => {
    setBusy(true);
    try {
      await provider.orderAction(order.id, action);
      notify(action === 'ship' ? 'Order shipped' : 'Order cancelled; its units are back in stock', { type: 'success' });
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: 'error' });
    } finally {
      setBusy(false);
      setOpen(false);
    }
  };
  const label = action === 'ship' ? 'Ship' : 'Cancel';
  return (
    <>
      <Button label={label} color={action === 'cancel' ? 'error' : 'primary'} disabled={busy} onClick={(e) => { e.stopPropagation(); setOpen(true); }} />
      <Confirm
        isOpen={open}
        loading={busy}
        title={`${label} order ${order.id.slice(-8)}?`}
        content={action === 'ship' ? 'It will be marked as shipped; it can no longer be cancelled.' : 'Its units go back to stock.'}
        onConfirm={run}
        onClose={() => setOpen(false)}
      />
    </>
  );
}

function Lines() {
  const order = useRecordContext<Order>();
  if (!order) return null;
  return (
    <Box sx={{ px: 2, pb: 1 }}>
      <Table size="small" aria-label="Order lines">
        <TableHead>
          <TableRow>
            <TableCell>Product</TableCell>
            <TableCell align="right">Quantity</TableCell>
            <TableCell align="right">Price</TableCell>
            <TableCell align="right">Line total</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {order.order_items.map((line) => (
            <TableRow key={line.product}>
              <TableCell>{line.name}</TableCell>
              <TableCell align="right">{line.quantity}</TableCell>
              <TableCell align="right">{line.price}</TableCell>
              <TableCell align="right">{line.line_total}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

export const OrderList = () => (
  <List filters={filters} exporter={false} sort={{ field: 'created_at', order: 'DESC' }} title="Orders (newest first)">
    <Datagrid expand={<Lines />} bulkActionButtons={false} rowClick="expand">
      <DateField source="created_at" label="Placed" showTime sortable={false} />
      <FunctionField label="Order" render={(o: Order) => o.id.slice(-8)} />
      <TextField source="customer" label="Customer id" sortable={false} />
      <FunctionField label="Status" render={(o: Order) => <Chip size="small" color={COLOURS[o.status]} label={o.cancel_reason ? `${o.status} (${o.cancel_reason})` : o.status} />} />
      <FunctionField label="Items" render={(o: Order) => o.order_items.reduce((n, l) => n + l.quantity, 0)} />
      <TextField source="total" textAlign="right" sortable={false} />
      <OrderAction action="ship" />
      <OrderAction action="cancel" />
    </Datagrid>
  </List>
);
