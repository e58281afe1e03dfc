/**
 * Webhook subscriptions: their health (enabled, why disabled, the last delivery), their settings,
 * the signing secret (shown once, on create and on rotation: the API never returns it again) and
 * each subscription's delivery log with a Redeliver button.
 */
import { Alert, Box, Chip, Dialog, DialogActions, DialogContent, DialogTitle, Typography } from '@mui/material';
import { useState } from 'react';
import {
  BooleanField,
  BooleanInput,
  Button,
  Confirm,
  Create,
  Datagrid,
  DateField,
  Edit,
  FunctionField,
  List,
  NumberField,
  Pagination,
  ReferenceManyField,
  required,
  SelectArrayInput,
  SimpleForm,
  TextField,
  TextInput,
  useDataProvider,
  useNotify,
  useRecordContext,
  useRedirect,
  useRefresh,
} from 'react-admin';
import type { dataProvider as ConsoleDataProvider } from './data-provider.ts';

interface Subscription {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  last_delivery: { status: string; response_status: number | null; created_at: string } | null;
  secret?: string;
}

interface Delivery {
  id: string;
  type: string;
  status: 'pending' | 'sending' | 'succeeded' | 'failed';
  attempt: number;
  response_status: number | null;
  duration_ms: number | null;
  error: string | null;
}

/** The event types docs/API.md documents; "*" is every type, present and future. */
const EVENTS = [
  { id: '*', name: 'All events (*)' },
  ...['order.created', 'order.confirmed', 'order.cancelled', 'order.shipped', 'inventory.low_stock', 'product.updated'].map((t) => ({ id: t, name: t })),
];
const COLOURS = { pending: 'warning', sending: 'info', succeeded: 'success', failed: 'error' } as const;

const statusChip = (status: Delivery['status'], responseStatus: number | null) => (
  <Chip size="small" color={COLOURS[status] ?? 'default'} label={responseStatus === null ? status : `${status} (${responseStatus})`} />
);

/** The secret in a dialog that says plainly it is the only time it is shown. */
function SecretDialog({ secret, title, onClose }: { secret: string | undefined; title: string; onClose: () => void }) {
  return (
    <Dialog open={secret !== undefined} onClose={onClose} aria-labelledby="webhook-secret-title">
      <DialogTitle id="webhook-secret-title">{title}</DialogTitle>
      <DialogContent>
        <Alert severity="warning" sx={{ mb: 2 }}>
          Copy this signing secret now: it won&apos;t be shown again.
        </Alert>
        <Typography component="code" data-secret sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }}>
          {secret}
        </Typography>
      </DialogContent>
      <DialogActions>
        <Button label="I have copied it" onClick={onClose} />
      </DialogActions>
    </Dialog>
  );
}

const Fields = () => (
  <>
    <TextInput source="url" label="URL" validate={required()} fullWidth type="url" />
    <SelectArrayInput source="events" label="Events" choices={EVENTS} validate={required()} fullWidth />
    <TextInput source="description" label="Description" fullWidth />
    <BooleanInput source="enabled" label="Enabled" />
  </>
);

export const WebhookList = () => (
  <List exporter={false} title="Webhook subscriptions">
    <Datagrid bulkActionButtons={false} rowClick="edit">
      <TextField source="url" label="URL" sortable={false} />
      <FunctionField label="Events" render={(s: Subscription) => s.events.join(', ')} />
      <BooleanField source="enabled" sortable={false} />
      <TextField source="disabled_reason" label="Disabled because" sortable={false} emptyText="—" />
      <FunctionField label="Last delivery" render={(s: Subscription) => (s.last_delivery ? statusChip(s.last_delivery.status as Delivery['status'], s.last_delivery.response_status) : '—')} />
    </Datagrid>
  </List>
);

export function WebhookCreate() {
  const [created, setCreated] = useState<Subscription>();
  const redirect = useRedirect();
  return (
    <>
      <Create title="New webhook subscription" mutationOptions={{ onSuccess: (data: Subscription) => setCreated(data) }} redirect={false}>
        <SimpleForm defaultValues={{ enabled: true, events: ['*'] }}>
          <Fields />
        </SimpleForm>
      </Create>
      <SecretDialog secret={created?.secret} title="Subscription created" onClose={() => created && redirect('edit', 'webhooks', created.id)} />
    </>
  );
}

function RotateSecret() {
  const record = useRecordContext<Subscription>();
  const provider = useDataProvider<typeof ConsoleDataProvider>();
  const notify = useNotify();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string>();
  if (!record) return null;
  const rotate = async () => {
    setBusy(true);
    try {
      setSecret((await provider.rotateSecret(record.id)).secret);
    } catch (error) {
      notify((error as Error).message, { type: 'error' });
    } finally {
      setBusy(false);
      setOpen(false);
    }
  };
  return (
    <>
      <Button label="Rotate secret" onClick={() => setOpen(true)} />
      <Confirm
        isOpen={open}
        loading={busy}
        title="Rotate the signing secret?"
        content="Deliveries are signed with both the old and the new secret for 24 hours; then only the new one."
        onConfirm={rotate}
        onClose={() => setOpen(false)}
      />
      <SecretDialog secret={secret} title="New signing secret" onClose={() => setSecret(undefined)} />
    </>
  );
}

function Redeliver({ subscriptionId }: { subscriptionId: string }) {
  const delivery = useRecordContext<Delivery>();
  const provider = useDataProvider<typeof ConsoleDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const [busy, setBusy] = useState(false);
  if (!delivery) return null;
  const run = async () => {
    setBusy(true);
    try {
      await provider.redeliver(subscriptionId, delivery.id);
      notify('Queued for redelivery', { type: 'success' });
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: 'error' });
    } finally {
      setBusy(false);
    }
  };
  return <Button label="Redeliver" disabled={busy} onClick={run} />;
}

function DeliveryLog() {
  const subscription = useRecordContext<Subscription>();
  if (!subscription) return null;
  return (
    <Box sx={{ p: 2 }}>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 2 }}>
        <Typography variant="h6" component="h2">
          Delivery log (newest first)
        </Typography>
        <RotateSecret />
      </Box>
      <ReferenceManyField reference="webhook-deliveries" target="subscription" perPage={25} pagination={<Pagination rowsPerPageOptions={[25, 50, 100]} />}>
        <Datagrid bulkActionButtons={false} rowClick={false} aria-label="Delivery log" empty={<Typography sx={{ py: 2 }}>No deliveries yet.</Typography>}>
          <DateField source="created_at" label="When" showTime sortable={false} />
          <TextField source="type" sortable={false} />
          <FunctionField label="Status" render={(d: Delivery) => statusChip(d.status, null)} />
          <NumberField source="attempt" sortable={false} />
          <TextField source="response_status" label="Response" sortable={false} emptyText="—" />
          <FunctionField label="Duration" render={(d: Delivery) => (d.duration_ms === null ? '—' : `${d.duration_ms} ms`)} />
          <TextField source="error" sortable={false} emptyText="—" />
          <Redeliver subscriptionId={subscription.id} />
        </Datagrid>
      </ReferenceManyField>
    </Box>
  );
}

export const WebhookEdit = () => (
  <Edit title="Webhook subscription" mutationMode="pessimistic">
    <SimpleForm>
      <Fields />
      <TextField source="disabled_reason" label="Disabled because" emptyText="—" />
    </SimpleForm>
    <DeliveryLog />
  </Edit>
);
