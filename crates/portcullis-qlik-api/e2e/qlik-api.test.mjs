// End-to-end: the official @qlik/api client, unchanged, against a running Portcullis server.
//
// The server runs the demo tenant (examples/demo-tenant.yaml) with known API keys:
// PORTCULLIS_ADMIN_KEY for `admin` (TenantAdmin), PORTCULLIS_BOB_KEY for `bob` and
// PORTCULLIS_ANN_KEY for `ann` (owner of the shared space "Finance team"). Every
// change made through the client is then checked through `/v1/check`, the decision API.
// scripts/e2e-qlik-api.sh starts the server and runs this file with `node --test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createQlikApi } from "@qlik/api";

const host = process.env.PORTCULLIS_URL;
const adminKey = process.env.PORTCULLIS_ADMIN_KEY;
const bobKey = process.env.PORTCULLIS_BOB_KEY;
const annKey = process.env.PORTCULLIS_ANN_KEY;
assert.ok(host && adminKey && bobKey && annKey, "set PORTCULLIS_URL and PORTCULLIS_{ADMIN,BOB,ANN}_KEY");

// A 401 is reported to onAuthFailed before it is thrown; the tests assert the thrown error.
const quiet = () => {};
const client = (apiKey) => createQlikApi({ hostConfig: { authType: "apikey", host, apiKey, onAuthFailed: quiet } });
const admin = client(adminKey);
const bob = client(bobKey);
const ann = client(annKey);
// @qlik/api caches GETs for ten minutes; every read here wants the current state.
const fresh = { noCache: true };

async function decision(user, action, resource) {
  const response = await fetch(`${host}/v1/check`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ user, action, resource }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).decision;
}

async function refused(promise, status) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.status, status, `expected ${status}: ${JSON.stringify(error.data)}`);
    const [first] = error.data.errors;
    assert.ok(first.code && first.title, JSON.stringify(error.data));
    assert.ok(error.data.traceId, "errors carry a traceId");
    return true;
  });
}

async function userId(subject) {
  const { data } = await admin.users.getUsers({ filter: `subject eq "${subject}"` }, fresh);
  assert.equal(data.data.length, 1, `one user ${subject}`);
  return data.data[0].id;
}

test("an unknown API key is refused with 401 AUTH-1", async () => {
  await assert.rejects(client("not-a-key-of-this-server").users.getMyUser(fresh), (error) => {
    assert.equal(error.status, 401);
    assert.equal(error.data.errors[0].code, "AUTH-1");
    return true;
  });
});

test("users page with .next() through absolute links", async () => {
  let page = await admin.users.getUsers({ limit: 2, totalResults: true, sort: "+name" }, fresh);
  assert.equal(page.data.totalResults, 6);
  const names = page.data.data.map((u) => u.name);
  while (page.next) {
    page = await page.next();
    names.push(...page.data.data.map((u) => u.name));
  }
  assert.deepEqual(names, ["Ada Admin", "Ann Analyst", "Bob Builder", "Carl Consumer", "Dana Departed", "Gateway Service"]);
  const me = await bob.users.getMyUser(fresh);
  assert.equal(me.data.subject, "bob", "a tenant-file user's id is the API user's subject");
  assert.match(me.data.id, /^[0-9a-f]{24}$/);
  await refused(admin.users.getUser("ffffffffffffffffffffffff", {}, fresh), 404);
  await refused(admin.users.createUser({ subject: "ann" }), 409);
});

test("a custom role is created, assigned and decides the next check", async () => {
  await refused(bob.roles.getRoles({}, fresh), 403);
  await refused(bob.roles.createRole({ name: "Nope" }), 403);
  const { data: role } = await admin.roles.createRole({ name: "KeyMakers", description: "e2e", assignedScopes: ["api-keys"] });
  assert.equal(role.type, "custom");
  assert.deepEqual(role.assignedScopes, ["api-keys"]);
  const { data: listed } = await admin.roles.getRoles({ filter: 'name eq "KeyMakers"' }, fresh);
  assert.equal(listed.data[0].id, role.id);

  const bobId = await userId("bob");
  assert.equal(await decision("bob", "api-key:create"), "deny");
  await admin.users.patchUser(bobId, [{ op: "replace", path: "/assignedRoles", value: [{ id: role.id }] }]);
  assert.equal(await decision("bob", "api-key:create"), "allow");
  await refused(admin.roles.deleteRole(role.id), 403);

  // bob may now make an API key; its token is shown once and works at once.
  const { data: key } = await bob.apiKeys.createApiKey({ description: "e2e", expiry: "P1D" });
  assert.ok(key.token);
  const { data: meAgain } = await client(key.token).users.getMyUser(fresh);
  assert.equal(meAgain.subject, "bob");

  await admin.roles.patchRole(role.id, [{ op: "remove-value", path: "/assignedScopes", value: "api-keys" }]);
  assert.equal(await decision("bob", "api-key:create"), "deny");
  await admin.users.patchUser(bobId, [{ op: "remove-value", path: "/assignedRoles", value: { id: role.id } }]);
  await admin.roles.deleteRole(role.id);
  await refused(admin.roles.getRole(role.id, fresh), 404);
});

test("groups: custom groups, membership through users, Everyone", async () => {
  const { data: group } = await admin.groups.createGroup({ name: "e2e-creators", providerType: "custom", assignedRoles: [{ name: "SharedSpaceCreator" }] });
  await refused(admin.groups.createGroup({ name: "e2e-creators", providerType: "custom" }), 409);
  await refused(bob.groups.createGroup({ name: "bobs", providerType: "custom" }), 403);
  const carlId = await userId("carl");
  assert.equal(await decision("carl", "space:create-shared"), "deny");
  await admin.users.patchUser(carlId, [{ op: "add", path: "/assignedGroups/-", value: group.id }]);
  assert.equal(await decision("carl", "space:create-shared"), "allow");
  await refused(admin.groups.deleteGroup(group.id), 409);

  const { data: system } = await admin.groups.getGroups({ systemGroups: true }, fresh);
  assert.equal(system.data[0].id, "000000000000000000000001");
  await admin.groups.patchGroupsSettings([
    { op: "replace", path: "/systemGroups/000000000000000000000001/assignedRoles", value: [{ name: "PrivateAnalyticsContentCreator" }, { name: "Steward" }] },
  ]);
  assert.equal(await decision("dana", "glossary:create"), "deny", "dana is disabled");
  assert.equal(await decision("ann", "glossary:create"), "allow", "a role on Everyone reaches every user");

  await admin.users.patchUser(carlId, [{ op: "remove-value", path: "/assignedGroups", value: group.id }]);
  await admin.groups.deleteGroup(group.id);
  await refused(admin.groups.getGroup(group.id, fresh), 404);
});

test("spaces and assignments", async () => {
  await refused(bob.spaces.createSpace({ name: "e2e-bob", type: "managed" }), 403);
  const { data: space } = await admin.spaces.createSpace({ name: "e2e-lab", type: "shared" });
  assert.deepEqual(space.meta.assignableRoles, ["facilitator", "producer", "codeveloper", "consumer", "dataconsumer"]);
  await refused(admin.spaces.createSpace({ name: "e2e-lab", type: "shared" }), 409);
  await refused(bob.spaces.getSpace(space.id, fresh), 404);

  const bobId = await userId("bob");
  assert.equal(await decision("bob", "space:read", space.id), "deny");
  const { data: assignment } = await admin.spaces.createSpaceAssignment(space.id, { type: "user", assigneeId: bobId, roles: ["consumer"] });
  assert.equal(await decision("bob", "space:read", space.id), "allow");
  await refused(admin.spaces.createSpaceAssignment(space.id, { type: "user", assigneeId: bobId, roles: ["consumer"] }), 409);
  const { data: seen } = await bob.spaces.getSpace(space.id, fresh);
  assert.deepEqual(seen.meta.roles, ["consumer"]);
  const { data: assignments } = await bob.spaces.getSpaceAssignments(space.id, {}, fresh);
  assert.equal(assignments.data.length, 1, "the owner is never listed");

  assert.equal(await decision("bob", "space:create-app", space.id), "deny");
  await admin.spaces.updateSpaceAssignment(space.id, assignment.id, { roles: ["producer"] });
  assert.equal(await decision("bob", "space:create-app", space.id), "allow");
  const { data: visible } = await bob.spaces.getSpaces({ name: "e2e" }, fresh);
  assert.deepEqual(visible.data.map((s) => s.name), ["e2e-lab"]);

  await admin.spaces.deleteSpaceAssignment(space.id, assignment.id);
  assert.equal(await decision("bob", "space:read", space.id), "deny");
  await admin.spaces.deleteSpace(space.id);
  await refused(admin.spaces.getSpace(space.id, fresh), 404);
});

test("fine-grained shares of one app", async () => {
  const { data: spaces } = await ann.spaces.getSpaces({ name: "finance" }, fresh);
  const finance = spaces.data[0];
  assert.equal(finance.name, "Finance team");
  const { data: existing } = await ann.spaces.getSpaceShares(finance.id, {}, fresh);
  assert.equal(existing.data.length, 1, "the tenant file's share of Forecast with carl");
  const forecast = existing.data[0].resourceId;
  const carlId = await userId("carl");
  const gatewayId = await userId("gateway");
  const toGateway = { type: "user", assigneeId: gatewayId, resourceId: forecast, resourceType: "app", roles: ["consumer"] };

  await refused(bob.spaces.createSpaceShare(finance.id, toGateway), 403);
  await refused(ann.spaces.createSpaceShare(finance.id, { ...toGateway, assigneeId: carlId }), 409);
  assert.equal(await decision("gateway", "app:read", "forecast"), "deny");
  const { data: share } = await ann.spaces.createSpaceShare(finance.id, toGateway);
  assert.equal(share.resourceName, "Forecast");
  assert.equal(await decision("gateway", "app:read", "forecast"), "allow");
  await ann.spaces.deleteSpaceShare(finance.id, share.id);
  assert.equal(await decision("gateway", "app:read", "forecast"), "deny");
  await refused(ann.spaces.getSpaceShare(finance.id, share.id, fresh), 404);
});

test("items: the apps a user may read, with what that user may do", async () => {
  const { data: spaces } = await ann.spaces.getSpaces({ name: "finance" }, fresh);
  const finance = spaces.data[0];
  const { data: page } = await bob.items.getItems({ resourceType: "app", spaceId: finance.id, sort: "+name" }, fresh);
  assert.deepEqual(page.data.map((item) => item.name), ["Budget 2026", "Forecast"]);
  const forecast = page.data[1];
  assert.equal(forecast.resourceType, "app");
  assert.ok(forecast.actions.includes("read") && !forecast.actions.includes("delete"), forecast.actions.join());
  const { data: mine } = await bob.items.getItems({ spaceId: "personal" }, fresh);
  assert.deepEqual(mine.data.map((item) => item.name), ["Bob's scratch app"]);
  const { data: one } = await bob.items.getItem(forecast.id, fresh);
  assert.equal(one.resourceId, forecast.resourceId);
  const { data: annOwns } = await ann.items.getItems({ ownerId: await userId("ann"), noActions: true }, fresh);
  assert.deepEqual(annOwns.data.map((item) => item.name).sort(), ["Budget 2026", "Forecast"]);
  assert.equal(annOwns.data[0].actions, undefined);
  await refused(bob.items.getItems({ resourceType: "spreadsheet" }, fresh), 400);
});

test("the older user parameters find one user, as Qlik does", async () => {
  const { data } = await admin.users.getUsers({ subject: "carl" }, fresh);
  assert.deepEqual(data.data.map((u) => u.subject), ["carl"]);
  // Combined with the newer ones (Qlik's Python SDK sends both), every filter must hold.
  const { data: none } = await admin.users.getUsers({ subject: "carl", filter: 'name eq "x"' }, fresh);
  assert.deepEqual(none.data, []);
  const { data: both } = await admin.users.getUsers({ subject: "carl", filter: 'name co "carl"' }, fresh);
  assert.deepEqual(both.data.map((u) => u.subject), ["carl"]);
  await refused(admin.users.getUsers({ startingAfter: "x", next: "y" }, fresh), 400);
});

async function token(form) {
  const response = await fetch(`${host}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: await response.json() };
}

test("OAuth clients: random ids, impersonation only when allowed, credentials gone with the client", async () => {
  const impersonation = "urn:qlik:oauth:user-impersonation";
  const body = { clientName: "e2e-portal", appType: "web", allowedScopes: ["user_default"] };
  const { data: plain } = await admin.oauthClients.createOAuthClient(body);
  assert.match(plain.clientId, /^[0-9a-f]{32}$/);
  assert.deepEqual(plain.allowedGrantTypes, ["client_credentials"]);
  const asUser = (client, secret) => ({
    grant_type: impersonation,
    client_id: client,
    client_secret: secret,
    "user_lookup[field]": "subject",
    "user_lookup[value]": "bob",
  });
  let answer = await token(asUser(plain.clientId, plain.clientSecret));
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error, "unauthorized_client");

  await admin.oauthClients.patchOAuthClient(plain.clientId, [
    { op: "replace", path: "/allowedGrantTypes", value: ["client_credentials", impersonation] },
  ]);
  const { data: shown } = await admin.oauthClients.getOAuthClient(plain.clientId, fresh);
  assert.deepEqual(shown.allowedGrantTypes, ["client_credentials", impersonation]);
  answer = await token(asUser(plain.clientId, plain.clientSecret));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));

  await admin.oauthClients.deleteOAuthClient(plain.clientId);
  const gone = await fetch(`${host}/v1/whoami`, { headers: { authorization: `Bearer ${answer.body.access_token}` } });
  assert.equal(gone.status, 401, "the token died with its client");
  const { data: again } = await admin.oauthClients.createOAuthClient({ ...body, allowedGrantTypes: ["client_credentials", impersonation] });
  assert.notEqual(again.clientId, plain.clientId, "the same name is another client");
  answer = await token({ grant_type: "client_credentials", client_id: again.clientId, client_secret: plain.clientSecret });
  assert.equal(answer.status, 401);
  await admin.oauthClients.deleteOAuthClient(again.clientId);
});

test("audits: ids as every resource shows them, by id, sorted by type or source, a day's archive", async () => {
  const { data: group } = await admin.groups.createGroup({ name: "e2e-audited", providerType: "custom" });
  const { data: page } = await admin.audits.getAudits({ eventType: "com.qlik.v1.group.created", limit: 1 }, fresh);
  const [event] = page.data;
  assert.equal(event.userId, await userId("admin"), "the actor as /users shows it");
  const { data: me } = await admin.users.getMyUser(fresh);
  assert.equal(event.tenantId, me.tenantId, "the tenant as /users shows it");
  const { data: byId } = await admin.audits.getAudits({ id: event.id }, fresh);
  assert.deepEqual(byId.data.map((e) => e.id), [event.id]);
  for (const [sort, field] of [["+eventType", "eventType"], ["-eventType", "eventType"], ["+source", "source"], ["-source", "source"]]) {
    let listed = await admin.audits.getAudits({ sort, limit: 3 }, fresh);
    const keys = listed.data.data.map((e) => e[field]);
    while (listed.next && keys.length < 12) {
      listed = await listed.next();
      keys.push(...listed.data.data.map((e) => e[field]));
    }
    const sorted = [...keys].sort();
    assert.deepEqual(keys, sort.startsWith("+") ? sorted : sorted.reverse(), `${sort}: ${keys}`);
  }
  const day = event.eventTime.slice(0, 10);
  const { data: archive } = await admin.audits.getArchivedAudits({ date: day }, fresh);
  assert.ok(archive.data.some((e) => e.eventId === event.eventId), "the day's archive holds the event");
  await refused(admin.audits.getArchivedAudits({ date: "yesterday" }, fresh), 400);
  await admin.groups.deleteGroup(group.id);
});

test("tenants: the caller's tenant, its auto-assign toggles patched by TenantAdmin only", async () => {
  const { data: mine } = await bob.tenants.getMyTenant(fresh);
  const { data: me } = await bob.users.getMyUser(fresh);
  assert.equal(mine.id, me.tenantId, "the tenant id users carry");
  const { data: byId } = await bob.tenants.getTenant(mine.id, fresh);
  assert.equal(byId.name, mine.name);
  await refused(bob.tenants.getTenant("ffffffffffffffffffffffff", fresh), 404);
  const path = "/autoAssignDataServicesContributorRoleToProfessionals";
  await refused(bob.tenants.patchTenant(mine.id, [{ op: "replace", path, value: true }]), 403);
  const { status } = await admin.tenants.patchTenant(mine.id, [{ op: "replace", path, value: true }]);
  assert.equal(status, 204);
  const { data: after } = await bob.tenants.getTenant(mine.id, fresh);
  assert.equal(after.autoAssignDataServicesContributorRoleToProfessionals, true);
  await refused(admin.tenants.patchTenant(mine.id, [{ op: "replace", path: "/name", value: "renamed" }]), 400);
  await admin.tenants.patchTenant(mine.id, [{ op: "replace", path, value: false }]);
});

test("invite: new e-mails become invited users, known ones are reported, bad ones refused one by one", async () => {
  await refused(bob.users.inviteUsers({ invitees: [{ email: "x@example.com" }] }), 403);
  const invitees = [{ email: "e2e-invitee@example.com", name: "Ivy Invitee" }, { email: "bob@example.com" }, { email: "nobody" }];
  const { status, data } = await admin.users.inviteUsers({ invitees });
  assert.equal(status, 207);
  assert.deepEqual(data.data.map((r) => r.status), ["ok", "exists", "error"]);
  assert.equal(data.data[1].userId, await userId("bob"));
  const { data: invited } = await admin.users.getUser(data.data[0].userId, {}, fresh);
  assert.equal(invited.status, "invited");
  assert.equal(invited.email, "e2e-invitee@example.com");
  const { data: again } = await admin.users.inviteUsers({ invitees: [{ email: "E2E-Invitee@example.com" }] });
  assert.deepEqual(again.data.map((r) => [r.status, r.userId]), [["exists", invited.id]], "nothing to write: still answered");
  await admin.users.deleteUser(invited.id);
});

test("API keys: settings bound new keys, the owner renames and deletes, an admin revokes", async () => {
  const annId = await userId("ann");
  const { data: ann0 } = await admin.users.getUser(annId, {}, fresh);
  const roles = ann0.assignedRoles.map((r) => ({ id: r.id }));
  await admin.users.patchUser(annId, [{ op: "replace", path: "/assignedRoles", value: [...roles, { name: "Developer" }] }]);
  const { data: me } = await ann.users.getMyUser(fresh);
  const { data: config } = await ann.apiKeys.getApiKeysConfig(me.tenantId, fresh);
  assert.deepEqual(config, { api_keys_enabled: true, max_api_key_expiry: "P3650D", max_keys_per_user: 1000 });
  await refused(ann.apiKeys.patchApiKeysConfig(me.tenantId, [{ op: "replace", path: "/max_keys_per_user", value: 2 }]), 403);
  // ann's key registered at start counts: one more is allowed.
  await admin.apiKeys.patchApiKeysConfig(me.tenantId, [
    { op: "replace", path: "/max_keys_per_user", value: 2 },
    { op: "replace", path: "/max_api_key_expiry", value: "P7D" },
  ]);
  await refused(ann.apiKeys.createApiKey({ description: "too long", expiry: "P8D" }), 400);
  const { data: key } = await ann.apiKeys.createApiKey({ description: "e2e ann" });
  await refused(ann.apiKeys.createApiKey({ description: "one too many", expiry: "P1D" }), 403);

  const { status } = await ann.apiKeys.patchApiKey(key.id, [{ op: "replace", path: "/description", value: "renamed" }]);
  assert.equal(status, 204);
  const { data: renamed } = await ann.apiKeys.getApiKey(key.id, fresh);
  assert.equal(renamed.description, "renamed");
  await ann.apiKeys.deleteApiKey(key.id);
  await refused(ann.apiKeys.getApiKey(key.id, fresh), 404);
  const gone = await fetch(`${host}/v1/whoami`, { headers: { authorization: `Bearer ${key.token}` } });
  assert.equal(gone.status, 401, "a deleted key is refused");

  const { data: another } = await ann.apiKeys.createApiKey({ description: "e2e revoked", expiry: "P1D" });
  await admin.apiKeys.deleteApiKey(another.id);
  const { data: revoked } = await admin.apiKeys.getApiKey(another.id, fresh);
  assert.equal(revoked.status, "revoked", "an administrator revokes; the key stays listed");

  await admin.apiKeys.patchApiKeysConfig(me.tenantId, [
    { op: "replace", path: "/max_keys_per_user", value: 1000 },
    { op: "replace", path: "/max_api_key_expiry", value: "P3650D" },
  ]);
  await admin.users.patchUser(annId, [{ op: "replace", path: "/assignedRoles", value: roles }]);
});

test("users: every patch path Qlik has, 207 naming the operations that failed", async () => {
  const carlId = await userId("carl");
  const { status } = await admin.users.patchUser(carlId, [
    { op: "replace", path: "/preferredLocale", value: "sv-SE" },
    { op: "replace", path: "/preferredZoneinfo", value: "Europe/Stockholm" },
    { op: "replace", path: "/picture", value: "https://example.com/carl.png" },
  ]);
  assert.equal(status, 204);
  const { data: carl } = await admin.users.getUser(carlId, {}, fresh);
  assert.equal(carl.preferredLocale, "sv-SE");
  assert.equal(carl.preferredZoneinfo, "Europe/Stockholm");
  assert.ok(Date.parse(carl.lastUpdatedAt) > 0, carl.lastUpdatedAt);
  const partial = await admin.users.patchUser(carlId, [
    { op: "unset", path: "/preferredLocale" },
    { op: "replace", path: "/assignedRoles", value: [{ name: "NoSuchRole" }] },
  ]);
  assert.equal(partial.status, 207);
  assert.equal(partial.data.errors.length, 1);
  assert.equal(partial.data.errors[0].source.pointer, "/1");
  const { data: after } = await admin.users.getUser(carlId, {}, fresh);
  assert.equal(after.preferredLocale, undefined, "the operation that could apply was written");
  await refused(admin.users.patchUser(carlId, [{ op: "replace", path: "/shoeSize", value: "44" }]), 400);
  await admin.users.patchUser(carlId, [
    { op: "unset", path: "/preferredZoneinfo" },
    { op: "unset", path: "/picture" },
  ]);
});

test("timestamps and descriptions; groups and roles renamed keep their ids, created again get new ones", async () => {
  const { data: group } = await admin.groups.createGroup({ name: "e2e-crew", providerType: "custom", description: "first" });
  assert.ok(Date.parse(group.createdAt) > 0 && group.lastUpdatedAt, JSON.stringify(group));
  assert.equal(group.description, "first");
  await admin.groups.patchGroup(group.id, [
    { op: "replace", path: "name", value: "e2e-deckhands" },
    { op: "replace", path: "description", value: "second" },
  ]);
  const { data: renamed } = await admin.groups.getGroup(group.id, fresh);
  assert.deepEqual([renamed.id, renamed.name, renamed.description], [group.id, "e2e-deckhands", "second"]);
  await admin.groups.deleteGroup(group.id);
  const { data: again } = await admin.groups.createGroup({ name: "e2e-crew", providerType: "custom" });
  assert.notEqual(again.id, group.id, "a group created again is another group");
  await refused(admin.groups.getGroup(group.id, fresh), 404);
  await admin.groups.deleteGroup(again.id);

  const { data: role } = await admin.roles.createRole({ name: "E2E Pilots", assignedScopes: ["api-keys"] });
  assert.ok(role.createdAt, JSON.stringify(role));
  await admin.roles.patchRole(role.id, [{ op: "replace", path: "/name", value: "E2E Aviators" }]);
  const { data: renamedRole } = await admin.roles.getRole(role.id, fresh);
  assert.equal(renamedRole.name, "E2E Aviators");
  await admin.roles.deleteRole(role.id);
  const { data: roleAgain } = await admin.roles.createRole({ name: "E2E Pilots" });
  assert.notEqual(roleAgain.id, role.id);
  await admin.roles.deleteRole(roleAgain.id);

  const { data: space } = await admin.spaces.createSpace({ name: "e2e described", type: "shared", description: "plans" });
  assert.equal(space.description, "plans");
  assert.equal(space.createdBy, await userId("admin"));
  assert.ok(space.createdAt);
  const { data: patched } = await admin.spaces.patchSpace(space.id, [{ op: "replace", path: "/description", value: "new plans" }]);
  assert.equal(patched.description, "new plans");
  const { data: put } = await admin.spaces.updateSpace(space.id, { description: "final plans" });
  assert.equal(put.description, "final plans");
  assert.ok(put.updatedAt);
  await admin.spaces.deleteSpace(space.id);

  const { data: newest } = await admin.users.getUsers({ sort: "-createdAt", limit: 100 }, fresh);
  const stamped = newest.data.filter((u) => u.createdAt).map((u) => u.createdAt);
  assert.deepEqual(stamped, [...stamped].sort().reverse(), "newest first");
  await refused(admin.users.getUsers({ sort: "+clientId" }, fresh), 400);
});

test("custom roles hold any set of scopes: data export without images", async () => {
  const { data: role } = await admin.roles.createRole({ name: "e2e-data-only", assignedScopes: ["apps.data:export"] });
  assert.deepEqual(role.assignedScopes, ["apps.data:export"]);
  await refused(admin.roles.createRole({ name: "e2e-bad", assignedScopes: ["admin_classic"] }), 400);
  await admin.roles.deleteRole(role.id);
});

test("OAuth clients: app types, Qlik's fields, publish and the consent method", async () => {
  const { data: spa } = await admin.oauthClients.createOAuthClient({
    clientName: "e2e-spa",
    appType: "spa",
    description: "a browser app",
    redirectUris: ["https://spa.example/callback"],
    allowedOrigins: ["https://spa.example"],
    allowedScopes: ["user_default"],
  });
  assert.equal(spa.appType, "spa");
  assert.equal(spa.clientSecret, undefined, "a public client holds no secret");
  assert.deepEqual(spa.allowedGrantTypes, []);
  assert.ok(spa.createdAt);
  await admin.oauthClients.patchOAuthClient(spa.clientId, [
    { op: "add", path: "/redirectUris", value: "https://spa.example/other" },
    { op: "replace", path: "/description", value: "renamed" },
  ]);
  const { data: published } = await admin.oauthClients.publishOAuthClient(spa.clientId);
  assert.ok(published.publishedAt);
  await admin.oauthClients.patchOAuthClientConnectionConfig(spa.clientId, [{ op: "replace", path: "/consentMethod", value: "trusted" }]);
  const { data: config } = await admin.oauthClients.getOAuthClientConnectionConfig(spa.clientId, fresh);
  assert.equal(config.consentMethod, "trusted");
  const { data: shown } = await admin.oauthClients.getOAuthClient(spa.clientId, fresh);
  assert.deepEqual(shown.redirectUris, ["https://spa.example/callback", "https://spa.example/other"]);
  assert.equal(shown.description, "renamed");
  assert.equal(shown.publishedAt, published.publishedAt);
  await refused(admin.oauthClients.createOAuthClientSecret(spa.clientId), 400);
  await admin.oauthClients.deleteOAuthClientConnectionConfig(spa.clientId);
  await admin.oauthClients.deleteOAuthClient(spa.clientId);
});

// A tenant file's app or data connection has the id the server derives from its key: the
// first 12 bytes of SHA-256 over "content", a zero byte and the key (it has no other way to
// learn it: items lists apps only).
const contentId = (key) => createHash("sha256").update(`content\0${key}`).digest("hex").slice(0, 24);

test("OAuth client secrets: listed by hint, one more created, one revoked and refused at the token endpoint", async () => {
  const { data: client } = await admin.oauthClients.createOAuthClient({ clientName: "e2e-rotation", appType: "web" });
  const { data: listed } = await admin.oauthClients.getOAuthClients({ filter: `clientName eq "e2e-rotation"`, totalResults: true }, fresh);
  assert.deepEqual(listed.data.map((c) => c.clientId), [client.clientId]);
  const { data: created } = await admin.oauthClients.createOAuthClientSecret(client.clientId);
  assert.equal(created.clientId, client.clientId);
  assert.equal(created.hint, created.clientSecret.slice(-4));
  assert.equal(created.createdBy, await userId("admin"));
  const { data: shown } = await admin.oauthClients.getOAuthClient(client.clientId, fresh);
  assert.deepEqual(shown.clientSecrets.map((s) => s.hint), [client.clientSecret.slice(-4), created.hint]);
  assert.ok(!JSON.stringify(shown).includes(created.clientSecret), "a secret is shown once");
  const grant = (secret) => ({ grant_type: "client_credentials", client_id: client.clientId, client_secret: secret });
  assert.equal((await token(grant(created.clientSecret))).status, 200);

  await refused(bob.oauthClients.deleteOAuthClientSecret(client.clientId, created.hint), 403);
  await admin.oauthClients.deleteOAuthClientSecret(client.clientId, created.hint);
  assert.equal((await token(grant(created.clientSecret))).status, 401, "a revoked secret is refused");
  assert.equal((await token(grant(client.clientSecret))).status, 200, "the other one still works");
  await refused(admin.oauthClients.deleteOAuthClientSecret(client.clientId, created.hint), 404);
  for (let n = 0; n < 4; n++) await admin.oauthClients.createOAuthClientSecret(client.clientId);
  await refused(admin.oauthClients.createOAuthClientSecret(client.clientId), 409);
  await admin.oauthClients.deleteOAuthClient(client.clientId);
});

test("data connections: an admin gives one another owner, in Qlik's bulk update", async () => {
  const ledger = contentId("ledger-db");
  const carlId = await userId("carl");
  const annId = await userId("ann");
  await refused(bob.dataConnections.updateDataConnections({ connections: [{ id: ledger, ownerId: carlId }] }), 403);
  const { status, data } = await admin.dataConnections.updateDataConnections({
    connections: [{ id: ledger, ownerId: carlId }, { id: "ffffffffffffffffffffffff", ownerId: carlId }],
  });
  assert.equal(status, 207);
  assert.deepEqual(data.data.map((d) => [d.id, d.status]), [[ledger, 204], ["ffffffffffffffffffffffff", 404]]);
  const { data: back } = await admin.dataConnections.updateDataConnections({ connections: [{ id: ledger, ownerId: annId }] });
  assert.equal(back.data[0].status, 204);
});

test("the rest of each served API: counts, filters, settings, types, one assignment, a share's roles, lists, one audit", async () => {
  const { data: count } = await admin.users.countUsers({}, fresh);
  assert.equal(count.total, 6);
  const { data: found } = await admin.users.filterUsers({}, { filter: 'subject eq "bob"' });
  assert.deepEqual(found.data.map((u) => u.subject), ["bob"]);
  const { data: groups } = await admin.groups.filterGroups({}, { filter: 'name eq "Everyone"' });
  assert.ok(Array.isArray(groups.data));
  const { data: settings } = await admin.groups.getGroupsSettings(fresh);
  assert.equal(typeof settings.autoCreateGroups, "boolean");
  const { data: types } = await admin.spaces.getSpaceTypes(fresh);
  assert.deepEqual([...types.data].sort(), ["data", "managed", "shared"]);
  const { data: keys } = await admin.apiKeys.getApiKeys({}, fresh);
  assert.ok(Array.isArray(keys.data));

  const { data: space } = await admin.spaces.createSpace({ name: "e2e-rest", type: "managed" });
  const { data: assignment } = await admin.spaces.createSpaceAssignment(space.id, { type: "user", assigneeId: await userId("carl"), roles: ["consumer"] });
  const { data: one } = await admin.spaces.getSpaceAssignment(space.id, assignment.id, fresh);
  assert.deepEqual(one.roles, ["consumer"]);
  await admin.spaces.deleteSpaceAssignment(space.id, assignment.id);
  await admin.spaces.deleteSpace(space.id);

  const { data: spaces } = await ann.spaces.getSpaces({ name: "finance" }, fresh);
  const { data: shares } = await ann.spaces.getSpaceShares(spaces.data[0].id, {}, fresh);
  const share = shares.data[0];
  await ann.spaces.patchShare(spaces.data[0].id, share.id, [{ op: "replace", path: "/roles", value: "consumer" }]);
  const { data: patched } = await ann.spaces.getSpaceShare(spaces.data[0].id, share.id, fresh);
  assert.deepEqual(patched.roles, ["consumer"]);

  const { data: sources } = await admin.audits.getAuditSources(fresh);
  assert.ok(sources.data.length > 0);
  const { data: eventTypes } = await admin.audits.getAuditTypes(fresh);
  assert.ok(eventTypes.data.includes("com.qlik.v1.group.created"), JSON.stringify(eventTypes.data));
  const { data: auditSettings } = await admin.audits.getAuditsSettings(fresh);
  assert.ok(auditSettings.data, JSON.stringify(auditSettings));
  const { data: page } = await admin.audits.getAudits({ limit: 1 }, fresh);
  const { data: audit } = await admin.audits.getAudit(page.data[0].id, fresh);
  assert.equal(audit.id, page.data[0].id);
});

// Last: it deletes bob.
test("deleting a user leaves their app without an owner; an admin hands it on", async () => {
  const { data: bobs } = await bob.items.getItems({ resourceType: "app", limit: 100 }, fresh);
  const scratch = bobs.data.find((item) => item.name === "Bob's scratch app");
  assert.ok(scratch, "bob's personal app is an item of his");
  const bobId = await userId("bob");
  const annId = await userId("ann");
  await admin.users.deleteUser(bobId);
  await refused(bob.users.getMyUser(fresh), 401);
  await refused(ann.apps.updateAppOwner(scratch.resourceId, { ownerId: annId }), 404);
  const { data: app } = await admin.apps.updateAppOwner(scratch.resourceId, { ownerId: annId });
  assert.equal(app.attributes.ownerId, annId);
  const { data: anns } = await ann.items.getItems({ resourceType: "app", ownerId: annId, limit: 100 }, fresh);
  assert.ok(anns.data.some((item) => item.name === "Bob's scratch app"), "ann owns it now");
});
