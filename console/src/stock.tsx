import { Box, Card, CardContent, Typography } from '@mui/material';
import {
  Datagrid,
  Edit,
  FormDataConsumer,
  List,
  NumberField,
  NumberInput,
  RadioButtonGroupInput,
  required,
  SaveButton,
  SimpleForm,
  TextField,
  Toolbar,
  useNotify,
  useRecordContext,
} from 'react-admin';
import { CursorPagination, productFilters } from './products.tsx';

export const StockList = () => (
  <List filters={productFilters} sort={{ field: 'name', order: 'ASC' }} perPage={25} pagination={<CursorPagination />} exporter={false} title="Stock">
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <TextField source="name" />
      <TextField source="category" sortable={false} emptyText="—" />
      <NumberField source="quantity" label="Available now" sortable={false} />
    </Datagrid>
  </List>
);

interface Inventory {
  id: string;
  name: string;
  stock: number;
  held: number;
  quantity: number;
}

/** Stock on the shelf, units held in live carts, and what customers can still order. */
function Figures() {
  const record = useRecordContext<Inventory>();
  if (!record) return null;
  const figures: [string, number][] = [
    ['On the shelf', record.stock],
    ['Held in carts', record.held],
    ['Available to order', record.quantity],
  ];
  return (
    <Card variant="outlined" sx={{ mb: 2 }}>
      <CardContent>
        <Typography variant="h6" component="h2" gutterBottom>
          {record.name}
        </Typography>
        <Box component="dl" sx={{ display: 'flex', gap: 4, flexWrap: 'wrap', m: 0 }}>
          {figures.map(([label, value]) => (
            <div key={label}>
              <Typography component="dt" variant="body2" color="text.secondary">
                {label}
              </Typography>
              <Typography component="dd" variant="h5" sx={{ m: 0 }} data-figure={label}>
                {value}
              </Typography>
            </div>
          ))}
        </Box>
      </CardContent>
    </Card>
  );
}

const MODES = [
  { id: 'set', name: 'Set the count' },
  { id: 'delta', name: 'Adjust by a delta' },
];

export function StockEdit() {
  const notify = useNotify();
  return (
    <Edit
      mutationMode="pessimistic"
      redirect={false}
      title="Stock"
      mutationOptions={{ onSuccess: () => notify('Stock saved', { type: 'success' }) }}
      transform={(data: Record<string, unknown>) => ({ ...data, mode: data.mode ?? 'set' })}
    >
      <Figures />
      <SimpleForm toolbar={<Toolbar><SaveButton label="Save stock" alwaysEnable /></Toolbar>} defaultValues={{ mode: 'set', delta: 0 }}>
        <RadioButtonGroupInput source="mode" label="Change" choices={MODES} />
        <FormDataConsumer>
          {({ formData }) =>
            formData.mode === 'delta' ? (
              <NumberInput source="delta" label="Change by (+ restock, − write-off)" step={1} validate={required()} />
            ) : (
              <NumberInput source="stock" label="New stock count" min={0} step={1} validate={required()} />
            )
          }
        </FormDataConsumer>
      </SimpleForm>
    </Edit>
  );
}
