import { Create, Datagrid, DeleteButton, Edit, List, regex, required, SimpleForm, TextField, TextInput } from 'react-admin';

const SLUG = regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Lower-case letters, digits and dashes, e.g. hot-drinks');

export const CategoryList = () => (
  <List filters={[<TextInput key="q" source="q" label="Search" alwaysOn />]} sort={{ field: 'name', order: 'ASC' }}>
    <Datagrid rowClick="edit" bulkActionButtons={false}>
      <TextField source="name" sortable={false} />
      <TextField source="slug" sortable={false} />
      <DeleteButton mutationMode="pessimistic" confirmContent="Its products stay, without a category." />
    </Datagrid>
  </List>
);

const Fields = () => (
  <>
    <TextInput source="name" validate={required()} />
    <TextInput source="slug" validate={[required(), SLUG]} />
  </>
);

export const CategoryEdit = () => (
  <Edit mutationMode="pessimistic" redirect="list">
    <SimpleForm>
      <Fields />
    </SimpleForm>
  </Edit>
);

export const CategoryCreate = () => (
  <Create redirect="list">
    <SimpleForm>
      <Fields />
    </SimpleForm>
  </Create>
);
