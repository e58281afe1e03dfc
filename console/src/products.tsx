import {
  Create,
  Datagrid,
  DeleteButton,
  Edit,
  EditButton,
  List,
  NumberField,
  NumberInput,
  Pagination,
  ReferenceInput,
  required,
  regex,
  SaveButton,
  SelectInput,
  SimpleForm,
  TextField,
  TextInput,
  Toolbar,
} from 'react-admin';

export const MONEY = regex(/^\d{1,10}(\.\d{1,2})?$/, 'A price such as 12.50');

export const productFilters = [
  <TextInput key="q" source="q" label="Search by name" alwaysOn resettable />,
  <ReferenceInput key="category" source="category" reference="categories" alwaysOn>
    <SelectInput label="Category" optionText="name" emptyText="Any category" />
  </ReferenceInput>,
  <TextInput key="min" source="min_price" label="Min price" validate={MONEY} alwaysOn />,
  <TextInput key="max" source="max_price" label="Max price" validate={MONEY} alwaysOn />,
];

/** Cursor pages: previous / next only (no total is counted over a million products). */
export const CursorPagination = () => <Pagination rowsPerPageOptions={[25, 50, 100]} />;

export const ProductList = () => (
  <List filters={productFilters} sort={{ field: 'created_at', order: 'DESC' }} perPage={25} pagination={<CursorPagination />} exporter={false}>
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <TextField source="name" />
      <TextField source="category" sortable={false} emptyText="—" />
      <TextField source="price" textAlign="right" />
      <NumberField source="quantity" label="Available" sortable={false} />
      <EditButton />
    </Datagrid>
  </List>
);

function ProductFields({ creating }: { creating?: boolean }) {
  return (
    <>
      <TextInput source="name" validate={required()} fullWidth />
      <TextInput source="description" multiline minRows={2} fullWidth />
      <TextInput source="price" validate={[required(), MONEY]} helperText="Decimal, e.g. 12.50" />
      {creating && <NumberInput source="quantity" label="Stock" min={0} step={1} validate={required()} defaultValue={0} />}
      <ReferenceInput source="category" reference="categories">
        <SelectInput label="Category" optionText="name" emptyText="No category" />
      </ReferenceInput>
    </>
  );
}

const EditToolbar = () => (
  <Toolbar sx={{ display: 'flex', justifyContent: 'space-between' }}>
    <SaveButton />
    <DeleteButton label="Archive" mutationMode="pessimistic" confirmTitle="Archive this product?" confirmContent="It leaves the catalog; past orders keep their lines." />
  </Toolbar>
);

export const ProductEdit = () => (
  <Edit mutationMode="pessimistic">
    <SimpleForm toolbar={<EditToolbar />}>
      <ProductFields />
    </SimpleForm>
  </Edit>
);

export const ProductCreate = () => (
  <Create redirect="edit">
    <SimpleForm>
      <ProductFields creating />
    </SimpleForm>
  </Create>
);
