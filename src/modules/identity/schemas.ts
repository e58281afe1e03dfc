/** Request and response shapes of /api/identity (snake_case on the wire) and their presenters. */
import { Type } from 'typebox';
import { UUID_PATTERN } from '../../platform/ids.ts';
import { Page, PageQuery } from '../../platform/pagination.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';
import type { UserRow } from './tables.ts';

const Username = Type.String({ minLength: 1, maxLength: 150, pattern: '^[\\w.@+-]+$', description: 'Letters, digits and @/./+/-/_ only' });
/**
 * What the service accepts as an address, said as a pattern rather than `format: email`: the
 * format allows `0@com`, the check (ajv-formats' email) wants a dotted domain of ASCII labels.
 */
export const EMAIL_PATTERN =
  "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$";
const Email = Type.String({ pattern: EMAIL_PATTERN, maxLength: 254, description: 'An address with a dotted domain, e.g. name@example.com' });
// Length rules for new passwords live in the service (one clear message); this only bounds the size.
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
/** A password being set: the service's length rule, in the document too (it also refuses common ones). */
const NewPassword = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: MAX_PASSWORD_LENGTH,
  description: `At least ${MIN_PASSWORD_LENGTH} characters, not a common password, not the username`,
});
const Name = Type.String({ maxLength: 150 });
const Token = Type.String({ minLength: 1, maxLength: 4096 });

export const IdParams = Type.Object({ id: Type.String({ pattern: UUID_PATTERN }) });

export const RegisterBody = Type.Object(
  { username: Username, email: Email, password: NewPassword, password2: Type.Optional(Password) },
  { additionalProperties: false },
);
export const RegisteredUser = Type.Object({ id: Type.String(), username: Type.String(), email: Type.String() });

export const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 150 }), password: Password });
export const TokenPairBody = Type.Object({
  access: Type.String(),
  refresh: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
});
export const RefreshBody = Type.Object({ refresh: Token });
export const RefreshedBody = Type.Object({ access: Type.String(), refresh: Type.String() });
export const VerifyBody = Type.Object({ token: Token });
export const Empty = Type.Object({});

export const ChangePasswordBody = Type.Object({ current_password: Password, new_password: NewPassword }, { additionalProperties: false });
export const ResetRequestBody = Type.Object({ email: Email }, { additionalProperties: false });
export const ResetRequested = Type.Object({ detail: Type.String() }, { description: 'The same answer whether or not an account has that email' });
export const ResetConfirmBody = Type.Object({ token: Token, new_password: NewPassword }, { additionalProperties: false });
export const CloseAccountBody = Type.Object({ password: Password }, { additionalProperties: false });

export const Profile = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  is_staff: Type.Boolean(),
});
export const ProfilePatch = Type.Object(
  {
    email: Type.Optional(Email),
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
    current_password: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH, description: 'Required when `email` changes; a wrong or missing one answers 401' })),
  },
  { additionalProperties: false },
);

export const Customer = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  is_active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  closed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the customer closed the account (DELETE me/); its personal data is then erased and it cannot be reopened',
  }),
});
export const CustomerPage = Page(Customer);
export const CustomerQuery = Type.Object({
  // The validator does not fill in defaults: limit 20 and offset 0 are applied by the route.
  limit: Type.Optional(PageQuery.limit),
  offset: Type.Optional(PageQuery.offset),
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  is_active: Type.Optional(Type.Boolean()),
});
export const NewCustomerBody = Type.Object(
  {
    username: Username,
    email: Email,
    password: Password,
    password2: Type.Optional(Password),
    first_name: Type.Optional(Name),
    last_name: Type.Optional(Name),
  },
  { additionalProperties: false },
);
export const CustomerPatch = Type.Object(
  { email: Type.Optional(Email), first_name: Type.Optional(Name), last_name: Type.Optional(Name), is_active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const presentProfile = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  is_staff: u.isStaff,
});

export const presentCustomer = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  is_active: u.isActive,
  created_at: new Date(u.createdAt).toISOString(),
  closed_at: u.closedAt ? new Date(u.closedAt).toISOString() : null,
});
