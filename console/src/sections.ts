import type { FunctionComponent } from 'preact';
import type { Identity } from './api';
import { ClientPage, ClientsPage } from './pages/clients';
import { EventsPage } from './pages/events';
import { RevokePage } from './pages/revoke';
import { TenantPage, TenantsPage } from './pages/tenants';
import { UserPage, UsersPage } from './pages/users';
import { WebhookPage, WebhooksPage } from './pages/webhooks';

// The console's sections: a new page gets its route by adding a section here, or a route
// to one; the user page's panels are listed in pages/users.tsx (UserPage).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PageProps = { who: Identity } & Record<string, any>;

export interface Section {
  label: string;
  /** The path of the section's first page; in a tenant, after /t/{slug}. */
  path: string;
  routes: { pattern: string; page: FunctionComponent<PageProps> }[];
}

export const globalSections: Section[] = [
  { label: 'Tenants', path: '/tenants', routes: [{ pattern: '/tenants', page: TenantsPage }] },
  { label: 'Global events', path: '/events', routes: [{ pattern: '/events', page: EventsPage }] },
  {
    label: 'Global webhooks', path: '/webhooks',
    routes: [{ pattern: '/webhooks', page: WebhooksPage }, { pattern: '/webhooks/:id', page: WebhookPage }],
  },
];

export const tenantSections: Section[] = [
  { label: 'Settings', path: '', routes: [{ pattern: '/t/:slug', page: TenantPage }] },
  {
    label: 'Clients', path: '/clients',
    routes: [{ pattern: '/t/:slug/clients', page: ClientsPage }, { pattern: '/t/:slug/clients/:id', page: ClientPage }],
  },
  {
    label: 'Users', path: '/users',
    routes: [{ pattern: '/t/:slug/users', page: UsersPage }, { pattern: '/t/:slug/users/:id', page: UserPage }],
  },
  { label: 'Events', path: '/events', routes: [{ pattern: '/t/:slug/events', page: EventsPage }] },
  {
    label: 'Webhooks', path: '/webhooks',
    routes: [{ pattern: '/t/:slug/webhooks', page: WebhooksPage }, { pattern: '/t/:slug/webhooks/:id', page: WebhookPage }],
  },
  { label: 'Revocation', path: '/revoke', routes: [{ pattern: '/t/:slug/revoke', page: RevokePage }] },
];
