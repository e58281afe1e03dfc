/** /api/identity: HTTP only — schemas attached, one service call per handler. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { currentUser } from '../../platform/http/auth.ts';
import { linkBase, offsetLinks } from '../../platform/pagination.ts';
import type { IdentityService } from './service.ts';
import {
  ChangePasswordBody,
  CloseAccountBody,
  Customer,
  CustomerPage,
  CustomerPatch,
  CustomerQuery,
  Empty,
  IdParams,
  LoginBody,
  NewCustomerBody,
  presentCustomer,
  presentProfile,
  Profile,
  ProfilePatch,
  RefreshBody,
  RefreshedBody,
  RegisterBody,
  RegisteredUser,
  ResetConfirmBody,
  ResetRequestBody,
  ResetRequested,
  TokenPairBody,
  VerifyBody,
} from './schemas.ts';

const tags = ['identity'];
// Answers with tokens, and the sign-up echoing what was sent, are never compressed (BREACH; compression.ts).
const NoContent = Type.Null({ description: 'No content' });
const RESET_REQUESTED = 'If an account has that email, a link to reset its password is on its way.';

export async function identityRoutes(fastify: FastifyInstance, service: IdentityService) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const baseUrl = (request: FastifyRequest) => linkBase(request, service.publicUrl);

  app.post('/register/', { config: { auth: 'public', compress: false }, schema: { tags, body: RegisterBody, response: { 201: RegisteredUser } } }, async (request, reply) => {
    const user = await service.register(request.body, request.ip);
    return reply.code(201).send({ id: user.id, username: user.username, email: user.email });
  });

  app.post('/token/', { config: { auth: 'public', compress: false }, schema: { tags, body: LoginBody, response: { 200: TokenPairBody } } }, async (request) => {
    const pair = await service.login(request.body.username, request.body.password, request.ip);
    return { access: pair.access, refresh: pair.refresh, token_type: 'Bearer' as const, expires_in: pair.expiresIn };
  });

  app.post('/token/refresh/', { config: { auth: 'public', compress: false }, schema: { tags, body: RefreshBody, response: { 200: RefreshedBody } } }, async (request) => {
    const pair = await service.refresh(request.body.refresh);
    return { access: pair.access, refresh: pair.refresh };
  });

  app.post('/token/verify/', { config: { auth: 'public' }, schema: { tags, body: VerifyBody, response: { 200: Empty } } }, async (request) => {
    await service.authenticate(request.body.token);
    return {};
  });

  app.post('/logout/', { config: { auth: 'customer' }, schema: { tags, body: RefreshBody, response: { 204: NoContent } } }, async (request, reply) => {
    await service.logout(currentUser(request).id, request.body.refresh);
    return reply.code(204).send(null);
  });

  app.get('/me/', { config: { auth: 'customer' }, schema: { tags, response: { 200: Profile } } }, async (request) =>
    presentProfile(await service.getProfile(currentUser(request).id)),
  );

  app.patch('/me/', { config: { auth: 'customer' }, schema: { tags, body: ProfilePatch, response: { 200: Profile } } }, async (request) => {
    const { email, first_name, last_name, current_password } = request.body;
    const changes = { email, firstName: first_name, lastName: last_name };
    return presentProfile(await service.updateProfile(currentUser(request).id, changes, current_password, request.ip));
  });

  app.post('/logout/all/', { config: { auth: 'customer' }, schema: { tags, response: { 204: NoContent } } }, async (request, reply) => {
    await service.logoutAll(currentUser(request));
    return reply.code(204).send(null);
  });

  app.post('/me/password/', { config: { auth: 'customer' }, schema: { tags, body: ChangePasswordBody, response: { 204: NoContent } } }, async (request, reply) => {
    await service.changePassword(currentUser(request), request.body.current_password, request.body.new_password, request.ip);
    return reply.code(204).send(null);
  });

  app.delete('/me/', { config: { auth: 'customer' }, schema: { tags, body: CloseAccountBody, response: { 204: NoContent } } }, async (request, reply) => {
    await service.closeAccount(currentUser(request), request.body.password, request.ip);
    return reply.code(204).send(null);
  });

  app.post('/password-reset/', { config: { auth: 'public' }, schema: { tags, body: ResetRequestBody, response: { 202: ResetRequested } } }, async (request, reply) => {
    await service.requestPasswordReset(request.body.email, request.ip);
    return reply.code(202).send({ detail: RESET_REQUESTED });
  });

  app.post('/password-reset/confirm/', { config: { auth: 'public' }, schema: { tags, body: ResetConfirmBody, response: { 204: NoContent } } }, async (request, reply) => {
    await service.confirmPasswordReset(request.body.token, request.body.new_password);
    return reply.code(204).send(null);
  });

  app.get('/customers/', { config: { auth: 'staff' }, schema: { tags, querystring: CustomerQuery, response: { 200: CustomerPage } } }, async (request) => {
    const { limit = 20, offset = 0, search, is_active } = request.query;
    const page = await service.listCustomers({ limit, offset, search, isActive: is_active });
    return { count: page.count, ...offsetLinks(baseUrl(request), request.url, offset, limit, page.count), results: page.rows.map(presentCustomer) };
  });

  app.post('/customers/', { config: { auth: 'staff' }, schema: { tags, body: NewCustomerBody, response: { 201: Customer } } }, async (request, reply) => {
    const { first_name, last_name, ...account } = request.body;
    const user = await service.createCustomer({ ...account, firstName: first_name, lastName: last_name });
    return reply.code(201).send(presentCustomer(user));
  });

  app.get('/customers/:id/', { config: { auth: 'staff' }, schema: { tags, params: IdParams, response: { 200: Customer } } }, async (request) =>
    presentCustomer(await service.getCustomer(request.params.id)),
  );

  app.patch('/customers/:id/', { config: { auth: 'staff' }, schema: { tags, params: IdParams, body: CustomerPatch, response: { 200: Customer } } }, async (request) => {
    const { email, first_name, last_name, is_active } = request.body;
    return presentCustomer(await service.updateCustomer(request.params.id, { email, firstName: first_name, lastName: last_name, isActive: is_active }));
  });

  app.delete('/customers/:id/', { config: { auth: 'staff' }, schema: { tags, params: IdParams, response: { 204: NoContent } } }, async (request, reply) => {
    await service.deactivateCustomer(request.params.id);
    return reply.code(204).send(null);
  });
}
