import polyglotI18nProvider from 'ra-i18n-polyglot';
import englishMessages from 'ra-language-english';
import { Admin, Resource } from 'react-admin';
import CategoryIcon from '@mui/icons-material/Category';
import InventoryIcon from '@mui/icons-material/Inventory';
import PeopleIcon from '@mui/icons-material/People';
import ReceiptIcon from '@mui/icons-material/Receipt';
import StorefrontIcon from '@mui/icons-material/Storefront';
import WebhookIcon from '@mui/icons-material/Webhook';
import { authProvider } from './auth-provider.ts';
import { CategoryCreate, CategoryEdit, CategoryList } from './categories.tsx';
import { CustomerEdit, CustomerList } from './customers.tsx';
import { Dashboard } from './dashboard.tsx';
import { dataProvider } from './data-provider.ts';
import { OrderList } from './orders.tsx';
import { ProductCreate, ProductEdit, ProductList } from './products.tsx';
import { StockEdit, StockList } from './stock.tsx';
import { WebhookCreate, WebhookEdit, WebhookList } from './webhooks.tsx';

const i18nProvider = polyglotI18nProvider(() => englishMessages, 'en', [{ locale: 'en', name: 'English' }], { allowMissing: true });

export function App() {
  return (
    <Admin
      title="opply staff console"
      dataProvider={dataProvider}
      authProvider={authProvider}
      i18nProvider={i18nProvider}
      dashboard={Dashboard}
      requireAuth
      disableTelemetry
    >
      <Resource name="products" list={ProductList} edit={ProductEdit} create={ProductCreate} icon={StorefrontIcon} recordRepresentation="name" />
      <Resource name="stock" list={StockList} edit={StockEdit} icon={InventoryIcon} options={{ label: 'Stock' }} recordRepresentation="name" />
      <Resource name="categories" list={CategoryList} edit={CategoryEdit} create={CategoryCreate} icon={CategoryIcon} recordRepresentation="name" />
      <Resource name="customers" list={CustomerList} edit={CustomerEdit} icon={PeopleIcon} recordRepresentation="username" />
      <Resource name="orders" list={OrderList} icon={ReceiptIcon} />
      <Resource name="webhooks" list={WebhookList} edit={WebhookEdit} create={WebhookCreate} icon={WebhookIcon} recordRepresentation="url" />
    </Admin>
  );
}
