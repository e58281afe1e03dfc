import {
  BooleanField,
  BooleanInput,
  Button,
  Datagrid,
  DateField,
  Edit,
  EmailField,
  List,
  NullableBooleanInput,
  SimpleForm,
  TextField,
  TextInput,
  useDelete,
  useNotify,
  useRecordContext,
  Confirm,
  Link,
} from 'react-admin';
import { useState } from 'react';

const filters = [
  <TextInput key="q" source="q" label="Find (name, username or email)" alwaysOn resettable />,
  <NullableBooleanInput key="active" source="is_active" label="Active" alwaysOn />,
];

/** DELETE customers/{id}/ deactivates: the account stays, its sessions end. */
function DeactivateButton() {
  const record = useRecordContext<{ id: string; username: string; is_active: boolean }>();
  const [open, setOpen] = useState(false);
  const notify = useNotify();
  const [remove, { isPending }] = useDelete();
  if (!record || !record.is_active) return null;
  const confirm = () =>
    remove(
      'customers',
      { id: record.id, previousData: record },
      {
        mutationMode: 'pessimistic',
        onSuccess: () => notify(`${record.username} deactivated`, { type: 'success' }),
        onError: (error: unknown) => notify((error as Error).message, { type: 'error' }),
        onSettled: () => setOpen(false),
      },
    );
  return (
    <>
      <Button label="Deactivate" color="error" onClick={(e) => { e.stopPropagation(); setOpen(true); }} />
      <Confirm
        isOpen={open}
        loading={isPending}
        title={`Deactivate ${record.username}?`}
        content="They are signed out everywhere and cannot sign in again until reactivated."
        onConfirm={confirm}
        onClose={() => setOpen(false)}
      />
    </>
  );
}

function OrdersLink() {
  const record = useRecordContext<{ id: string }>();
  if (!record) return null;
  const filter = encodeURIComponent(JSON.stringify({ customer: record.id }));
  return (
    <Button component={Link} to={`/orders?filter=${filter}`} label="Orders" onClick={(e: React.MouseEvent) => e.stopPropagation()} />
  );
}

export const CustomerList = () => (
  <List filters={filters} exporter={false} sort={{ field: 'created_at', order: 'DESC' }}>
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <TextField source="username" sortable={false} />
      <EmailField source="email" sortable={false} />
      <TextField source="first_name" label="First name" sortable={false} />
      <TextField source="last_name" label="Last name" sortable={false} />
      <BooleanField source="is_active" label="Active" sortable={false} />
      <DateField source="created_at" label="Joined" sortable={false} />
      <OrdersLink />
      <DeactivateButton />
    </Datagrid>
  </List>
);

export const CustomerEdit = () => (
  <Edit mutationMode="pessimistic">
    <SimpleForm>
      <TextField source="username" />
      <TextInput source="email" type="email" />
      <TextInput source="first_name" label="First name" />
      <TextInput source="last_name" label="Last name" />
      <BooleanInput source="is_active" label="Active" />
    </SimpleForm>
  </Edit>
);
