"""End-to-end: Qlik's Python SDK (`qlik-sdk`), unchanged, against a running Portcullis server.

The server runs the demo tenant (examples/demo-tenant.yaml) with known API keys:
PORTCULLIS_ADMIN_KEY for `admin` (TenantAdmin), PORTCULLIS_BOB_KEY for `bob` and
PORTCULLIS_ANN_KEY for `ann` (owner of the shared space "Finance team"). The SDK reads every
answer into its typed classes (strict enums included), so a field Portcullis shapes differently
from Qlik fails here. scripts/e2e-qlik-sdk.sh starts the server and runs this file with
`python -m unittest`.
"""

import hashlib
import os
import unittest
import warnings

import requests
from qlik_sdk import AuthType, Config, Qlik
from qlik_sdk.apis.Groups import GroupPostSchema
from qlik_sdk.apis.Spaces import SpaceCreate
from qlik_sdk.apis.Users import UserPostSchema

HOST = os.environ["PORTCULLIS_URL"]


def client(key_name):
    return Qlik(Config(host=HOST, auth_type=AuthType.APIKey, api_key=os.environ[key_name]))


ADMIN = client("PORTCULLIS_ADMIN_KEY")
BOB = client("PORTCULLIS_BOB_KEY")
ANN = client("PORTCULLIS_ANN_KEY")


def status_of(call):
    """The HTTP status a refused call raised with."""
    try:
        call()
    except requests.HTTPError as error:
        return error.response.status_code
    raise AssertionError("the call was not refused")


class QlikSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The SDK warns about every deprecated parameter it sends by default.
        warnings.simplefilter("ignore", DeprecationWarning)

    def test_users_with_the_sdks_default_parameters(self):
        me = ADMIN.users.get_me()
        self.assertEqual(me.subject, "admin")
        users = ADMIN.users.get_users(limit=100)
        subjects = {user.subject for user in users}
        self.assertIn("ann", subjects)
        self.assertNotIn("dana", subjects, "the SDK asks for active users only (status=active)")
        ann = ADMIN.users.get_users(filter='subject eq "ann"')
        self.assertEqual([user.subject for user in ann], ["ann"])
        self.assertEqual(ADMIN.users.get(ann[0].id).email, "ann@example.com")
        self.assertGreaterEqual(ADMIN.users.count().total, 6)
        made = ADMIN.users.create(UserPostSchema(subject="py-sdk-user", name="Py Sdk"))
        self.assertEqual(made.name, "Py Sdk")
        made.delete()
        self.assertEqual(status_of(lambda: ADMIN.users.get(made.id)), 404)

    def test_groups_created_read_and_deleted(self):
        group = ADMIN.groups.create(GroupPostSchema(name="py-sdk-group"))
        self.assertEqual(ADMIN.groups.get(group.id).name, "py-sdk-group")
        self.assertIn("py-sdk-group", [g.name for g in ADMIN.groups.get_groups(limit=100)])
        settings = ADMIN.groups.get_settings()
        self.assertIsInstance(settings.autoCreateGroups, bool)
        self.assertIsInstance(settings.syncIdpGroups, bool)
        group.delete()
        self.assertEqual(status_of(lambda: BOB.groups.create(GroupPostSchema(name="x"))), 403)

    def test_roles_only_for_tenant_admins(self):
        roles = ADMIN.roles.get_roles(limit=100)
        names = {role.name for role in roles}
        self.assertTrue({"TenantAdmin", "UserDefault"} <= names, names)
        admin_role = next(role for role in roles if role.name == "TenantAdmin")
        self.assertEqual(ADMIN.roles.get(admin_role.id).level, "admin")
        self.assertEqual(status_of(lambda: BOB.roles.get_roles()), 403)

    def test_spaces_with_qliks_actions_and_roles(self):
        spaces = ANN.spaces.get_spaces(limit=100)
        finance = next(space for space in spaces if space.name == "Finance team")
        # The SDK reads `meta.actions` into its strict `ActionName` enum.
        self.assertIn("delete", [action.value for action in finance.meta.actions])
        self.assertTrue(finance.meta.roles, "the owner holds every assignable role")
        self.assertIn("shared", [t.value for t in ADMIN.spaces.get_types().data])
        self.assertEqual(status_of(lambda: BOB.spaces.create(SpaceCreate(name="py-sdk-no", type="shared"))), 403)
        made = ADMIN.spaces.create(SpaceCreate(name="py-sdk-space", type="shared", description="from Python"))
        self.assertEqual(made.description, "from Python")
        carl = ADMIN.users.get_users(filter='subject eq "carl"')[0].id
        # A plain dict: qlik-sdk 0.17.0 turns `AssignmentCreate.roles` into enums it then cannot
        # serialize.
        assignment = made.create_assignment({"type": "user", "assigneeId": carl, "roles": ["consumer"]})
        self.assertEqual([role.value for role in assignment.roles], ["consumer"])
        self.assertEqual(len(made.get_assignments()), 1)
        made.delete_assignment(assignment.id)
        made.delete()

    def test_items_tenant_and_api_key_settings(self):
        items = ANN.items.get_items(resourceType="app", limit=100)
        self.assertIn("Budget 2026", [item.name for item in items])
        tenant = ADMIN.tenants.get_me()
        self.assertTrue(tenant.id)
        config = ADMIN.api_keys.get_config(tenant.id)
        self.assertIsNotNone(config.api_keys_enabled)
        self.assertIsNotNone(ADMIN.api_keys.get_api_keys(limit=100))

    def test_audits_read_by_tenant_admins(self):
        audits = ADMIN.audits.get_audits(limit=5)
        self.assertLessEqual(len(audits), 5)
        self.assertTrue(ADMIN.audits.get_types().data)
        self.assertEqual(status_of(lambda: BOB.audits.get_audits()), 403)


    def test_oauth_client_secrets_rotated_through_the_sdks_rest_call(self):
        # qlik-sdk 0.17.0 has no typed OAuth-clients API: its `rest` call sends what Qlik's
        # REST reference describes, with the SDK's authentication.
        made = ADMIN.rest(path="/oauth-clients", method="POST", data={"clientName": "py-sdk-rotation", "appType": "web"})
        self.assertEqual(made.status_code, 201, made.text)
        client = made.json()
        path = f"/oauth-clients/{client['clientId']}/client-secrets"
        created = ADMIN.rest(path=path, method="POST").json()
        self.assertEqual(created["hint"], created["clientSecret"][-4:])
        shown = ADMIN.rest(path=f"/oauth-clients/{client['clientId']}").json()
        self.assertEqual([s["hint"] for s in shown["clientSecrets"]], [client["clientSecret"][-4:], created["hint"]])

        def token(secret):
            form = {"grant_type": "client_credentials", "client_id": client["clientId"], "client_secret": secret}
            return requests.post(f"{HOST}/oauth/token", data=form, timeout=10).status_code

        self.assertEqual(token(created["clientSecret"]), 200)
        self.assertEqual(ADMIN.rest(path=f"{path}/{created['hint']}", method="DELETE").status_code, 204)
        self.assertEqual(token(created["clientSecret"]), 401, "a revoked secret is refused")
        self.assertEqual(token(client["clientSecret"]), 200)
        self.assertEqual(ADMIN.rest(path=f"/oauth-clients/{client['clientId']}", method="DELETE").status_code, 204)

    def test_data_connection_owner_through_the_sdks_rest_call(self):
        carl = ADMIN.users.get_users(filter='subject eq "carl"')[0].id
        ann = ADMIN.users.get_users(filter='subject eq "ann"')[0].id
        # A tenant file's data connection has the id the server derives from its key.
        ledger = hashlib.sha256(b"content\0ledger-db").hexdigest()[:24]
        body = {"connections": [{"id": ledger, "ownerId": carl}]}
        self.assertEqual(status_of(lambda: BOB.rest(path="/data-connections/actions/update", method="POST", data=body).raise_for_status()), 403)
        done = ADMIN.rest(path="/data-connections/actions/update", method="POST", data=body)
        self.assertEqual(done.status_code, 207, done.text)
        self.assertEqual(done.json()["data"], [{"id": ledger, "status": 204}])
        back = {"connections": [{"id": ledger, "ownerId": ann}]}
        self.assertEqual(ADMIN.rest(path="/data-connections/actions/update", method="POST", data=back).status_code, 207)

if __name__ == "__main__":
    unittest.main()
