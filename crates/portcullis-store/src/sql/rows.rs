//! The rows of a tenant's access model: one writer per table group, used by imports (every
//! row) and by commits (the rows of the touched entities), so each row is encoded in one place.

use portcullis_model::tenant::{CustomRole, Group, OauthClient, Share, Space, Tenant, Use, User};
use portcullis_model::{Content, Meta};
use sqlx::QueryBuilder;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Dialect, ROWS_PER_INSERT, Sql, Tx, assignee_parts, origin_word, owner_word, role_setting_word};
use crate::ImportProgress;
use crate::err::{StoreError, from_sqlx};

impl<DB: Dialect> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
{
    /// Inserts `rows` into `table (tenant_id, columns...)` in batches; `bind` pushes one row's values.
    pub(super) async fn insert_rows<'r, T>(
        tx: &mut Tx<DB>,
        written: &mut Written<'_>,
        table: &str,
        columns: &str,
        tenant: i64,
        rows: &'r [T],
        bind: impl Fn(&mut sqlx::query_builder::Separated<'_, 'r, DB, &'static str>, &'r T),
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'r, DB> = QueryBuilder::new(format!("INSERT INTO {table} (tenant_id, {columns}) "));
            builder.push_values(chunk, |mut row, item| {
                row.push_bind(tenant);
                bind(&mut row, item);
            });
            DB::built(&mut builder).execute(&mut **tx).await.map_err(from_sqlx)?;
            written.add(chunk.len());
        }
        Ok(())
    }

    /// Writes a whole tenant's rows into empty tables (an import), reporting the rows written.
    pub(super) async fn write_model(tx: &mut Tx<DB>, id: i64, tenant: &Tenant, progress: ImportProgress<'_>) -> Result<(), StoreError> {
        let written = &mut Written::new(model_rows(tenant), progress);
        Self::insert_settings(tx, id, tenant, written).await?;
        Self::insert_user_default(tx, id, tenant, written).await?;
        Self::insert_everyone_roles(tx, id, tenant, written).await?;
        Self::insert_custom_roles(tx, id, &tenant.custom_roles, written).await?;
        Self::insert_groups(tx, id, &tenant.groups, written).await?;
        Self::insert_users(tx, id, &tenant.users, written).await?;
        Self::insert_clients(tx, id, &tenant.oauth_clients, written).await?;
        Self::insert_spaces(tx, id, &tenant.spaces, written).await?;
        Self::insert_content(tx, id, &tenant.content, written).await?;
        Self::insert_shares(tx, id, &tenant.shares.iter().collect::<Vec<_>>(), written).await?;
        Self::insert_uses(tx, id, &tenant.uses.iter().collect::<Vec<_>>(), written).await?;
        let mut metas = meta_rows(&tenant.users)?;
        metas.extend(meta_rows(&tenant.groups)?);
        metas.extend(meta_rows(&tenant.custom_roles)?);
        metas.extend(meta_rows(&tenant.oauth_clients)?);
        metas.extend(meta_rows(&tenant.spaces)?);
        Self::insert_meta(tx, id, &metas, written).await
    }

    /// The API's extra fields of entities (`entity_meta`), as `(kind, key, JSON)`.
    pub(super) async fn insert_meta(tx: &mut Tx<DB>, id: i64, rows: &[(&str, &str, String)], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "entity_meta", "kind, key, meta", id, rows, |row, (kind, key, meta)| {
            row.push_bind(*kind).push_bind(*key).push_bind(meta.as_str());
        })
        .await
    }

    /// Rewrites the `entity_meta` rows of the touched entities of one kind (`keys`) from the
    /// ones still in the tenant (`rows`).
    async fn replace_meta<T: WithMeta>(tx: &mut Tx<DB>, id: i64, keys: &[&str], rows: &[T], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::delete_meta(tx, id, T::KIND, keys).await?;
        Self::insert_meta(tx, id, &meta_rows(rows)?, written).await
    }

    /// Deletes the `entity_meta` rows of the entities of one kind with these keys.
    async fn delete_meta(tx: &mut Tx<DB>, id: i64, kind: &str, keys: &[&str]) -> Result<(), StoreError> {
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new("DELETE FROM entity_meta WHERE tenant_id = ");
            builder.push_bind(id).push(" AND kind = ").push_bind(kind).push(" AND key IN (");
            let mut list = builder.separated(", ");
            for key in chunk {
                list.push_bind(*key);
            }
            builder.push(")");
            DB::built(&mut builder).execute(&mut **tx).await.map_err(from_sqlx)?;
        }
        Ok(())
    }

    // One writer per table group, used by imports (every row) and by writes (the rows of the
    // touched entities), so each row is encoded in one place.

    pub(super) async fn insert_settings(tx: &mut Tx<DB>, id: i64, tenant: &Tenant, written: &mut Written<'_>) -> Result<(), StoreError> {
        let settings: Vec<(&str, i64)> = tenant.settings.iter().map(|(s, v)| (s.as_str(), i64::from(*v))).collect();
        Self::insert_rows(tx, written, "settings", "name, value", id, &settings, |row, (name, value)| {
            row.push_bind(*name).push_bind(*value);
        })
        .await
    }

    pub(super) async fn insert_user_default(tx: &mut Tx<DB>, id: i64, tenant: &Tenant, written: &mut Written<'_>) -> Result<(), StoreError> {
        let user_default: Vec<(&str, &str)> = tenant.user_default.iter().map(|(p, v)| (p.def().key, v.as_str())).collect();
        Self::insert_rows(
            tx,
            written,
            "user_default",
            "permission, value",
            id,
            &user_default,
            |row, (permission, value)| {
                row.push_bind(*permission).push_bind(*value);
            },
        )
        .await
    }

    pub(super) async fn insert_everyone_roles(tx: &mut Tx<DB>, id: i64, tenant: &Tenant, written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "everyone_roles", "role", id, &tenant.everyone_roles, |row, role| {
            row.push_bind(role.as_str());
        })
        .await
    }

    pub(super) async fn insert_custom_roles(tx: &mut Tx<DB>, id: i64, roles: &[CustomRole], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "custom_roles", "name, description", id, roles, |row, role| {
            row.push_bind(role.name.as_str()).push_bind(role.description.as_str());
        })
        .await?;
        let permissions: Vec<(&str, &str, std::borrow::Cow<'static, str>)> = roles
            .iter()
            .flat_map(|r| {
                r.permissions
                    .iter()
                    .map(move |(p, s)| (r.name.as_str(), p.def().key, role_setting_word(*s)))
            })
            .collect();
        Self::insert_rows(
            tx,
            written,
            "role_permissions",
            "role, permission, value",
            id,
            &permissions,
            |row, (role, p, v)| {
                row.push_bind(*role).push_bind(*p).push_bind(v.as_ref());
            },
        )
        .await
    }

    pub(super) async fn insert_groups(tx: &mut Tx<DB>, id: i64, groups: &[Group], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "tenant_groups", "name, provider_type", id, groups, |row, group| {
            row.push_bind(group.name.as_str()).push_bind(group.provider_type.as_str());
        })
        .await?;
        let group_roles: Vec<(&str, &str)> = groups
            .iter()
            .flat_map(|g| g.roles.iter().map(move |r| (g.name.as_str(), r.as_str())))
            .collect();
        Self::insert_rows(tx, written, "group_roles", "group_name, role", id, &group_roles, |row, (group, role)| {
            row.push_bind(*group).push_bind(*role);
        })
        .await
    }

    pub(super) async fn insert_users(tx: &mut Tx<DB>, id: i64, users: &[User], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "users", "id, name, email, entitlement, status", id, users, |row, user| {
            row.push_bind(user.id.as_str())
                .push_bind(user.name.as_str())
                .push_bind(user.email.as_deref())
                .push_bind(user.entitlement.as_str())
                .push_bind(user.status.as_str());
        })
        .await?;
        let user_roles: Vec<(&str, &str, &str)> = users
            .iter()
            .flat_map(|u| u.roles.iter().map(move |r| (u.id.as_str(), r.role.as_str(), origin_word(r.origin))))
            .collect();
        Self::insert_rows(
            tx,
            written,
            "user_roles",
            "user_id, role, origin",
            id,
            &user_roles,
            |row, (user, role, origin)| {
                row.push_bind(*user).push_bind(*role).push_bind(*origin);
            },
        )
        .await?;
        let user_groups: Vec<(&str, &str)> = users
            .iter()
            .flat_map(|u| u.groups.iter().map(move |g| (u.id.as_str(), g.as_str())))
            .collect();
        Self::insert_rows(
            tx,
            written,
            "user_groups",
            "user_id, group_name",
            id,
            &user_groups,
            |row, (user, group)| {
                row.push_bind(*user).push_bind(*group);
            },
        )
        .await
    }

    pub(super) async fn insert_clients(tx: &mut Tx<DB>, id: i64, clients: &[OauthClient], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "oauth_clients", "id, name, impersonation", id, clients, |row, client| {
            row.push_bind(client.id.as_str())
                .push_bind(client.name.as_str())
                .push_bind(i64::from(client.impersonation));
        })
        .await?;
        let scopes: Vec<(&str, &str)> = clients
            .iter()
            .flat_map(|c| c.scopes.iter().map(move |s| (c.id.as_str(), s.as_str())))
            .collect();
        Self::insert_rows(
            tx,
            written,
            "oauth_client_scopes",
            "client_id, scope",
            id,
            &scopes,
            |row, (client, scope)| {
                row.push_bind(*client).push_bind(*scope);
            },
        )
        .await
    }

    pub(super) async fn insert_spaces(tx: &mut Tx<DB>, id: i64, spaces: &[Space], written: &mut Written<'_>) -> Result<(), StoreError> {
        // The export mark as JSON text, NULL when the space has none.
        let marks: Vec<Option<String>> = spaces
            .iter()
            .map(|space| {
                space
                    .export_only_through
                    .as_ref()
                    .map(|roles| serde_json::Value::from(roles.clone()).to_string())
            })
            .collect();
        let rows: Vec<(&Space, Option<&str>)> = spaces.iter().zip(marks.iter().map(Option::as_deref)).collect();
        Self::insert_rows(
            tx,
            written,
            "spaces",
            "id, name, space_type, owner, export_only_through",
            id,
            &rows,
            |row, (space, mark)| {
                row.push_bind(space.id.as_str())
                    .push_bind(space.name.as_str())
                    .push_bind(space.space_type.as_str())
                    .push_bind(owner_word(space.owner.as_deref()))
                    .push_bind(*mark);
            },
        )
        .await?;
        let members: Vec<(&str, &str, &str, i64)> = spaces
            .iter()
            .flat_map(|s| {
                s.members.iter().map(move |m| {
                    let (kind, name) = assignee_parts(&m.assignee);
                    (s.id.as_str(), kind, name, i64::from(m.roles.0))
                })
            })
            .collect();
        Self::insert_rows(
            tx,
            written,
            "space_members",
            "space_id, assignee_kind, assignee, roles",
            id,
            &members,
            |row, (s, k, n, r)| {
                row.push_bind(*s).push_bind(*k).push_bind(*n).push_bind(*r);
            },
        )
        .await
    }

    pub(super) async fn insert_content(tx: &mut Tx<DB>, id: i64, items: &[Content], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "content", "id, name, kind, space_id, owner", id, items, |row, item| {
            row.push_bind(item.id.as_str())
                .push_bind(item.name.as_str())
                .push_bind(item.kind.as_str())
                .push_bind(item.space.as_deref())
                .push_bind(owner_word(item.owner.as_deref()));
        })
        .await
    }

    pub(super) async fn insert_shares(tx: &mut Tx<DB>, id: i64, shares: &[&Share], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(
            tx,
            written,
            "shares",
            "resource, assignee_kind, assignee, roles",
            id,
            shares,
            |row, share| {
                let (kind, name) = assignee_parts(&share.assignee);
                row.push_bind(share.resource.as_str())
                    .push_bind(kind)
                    .push_bind(name)
                    .push_bind(i64::from(share.roles.0));
            },
        )
        .await
    }

    pub(super) async fn insert_uses(tx: &mut Tx<DB>, id: i64, uses: &[&Use], written: &mut Written<'_>) -> Result<(), StoreError> {
        Self::insert_rows(tx, written, "uses", "consumer, source", id, uses, |row, use_| {
            row.push_bind(use_.consumer.as_str()).push_bind(use_.source.as_str());
        })
        .await
    }

    /// Deletes a tenant's rows from `tables`.
    pub(super) async fn clear(tx: &mut Tx<DB>, id: i64, tables: &[&str]) -> Result<(), StoreError> {
        for table in tables {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
        }
        Ok(())
    }

    /// Deletes the rows of `keys` from each `(table, key column)`: a statement per table (per
    /// 2,000 keys), however many entities a write or a batch of writes touched.
    pub(super) async fn delete_keyed(tx: &mut Tx<DB>, id: i64, keys: &[&str], tables: &[(&str, &str)]) -> Result<(), StoreError> {
        for (table, column) in tables {
            for chunk in keys.chunks(ROWS_PER_INSERT) {
                let mut builder: QueryBuilder<'_, DB> = QueryBuilder::new(format!("DELETE FROM {table} WHERE tenant_id = "));
                builder.push_bind(id).push(format!(" AND {column} IN ("));
                let mut list = builder.separated(", ");
                for key in chunk {
                    list.push_bind(*key);
                }
                builder.push(")");
                DB::built(&mut builder).execute(&mut **tx).await.map_err(from_sqlx)?;
            }
        }
        Ok(())
    }

    /// Rewrites the rows of every touched entity from `tenant` (deleted entities lose theirs):
    /// per kind, their rows are deleted and those still in the tenant inserted again, in a few
    /// statements whatever their number (a batch of writes touches many).
    pub(super) async fn write_touched(tx: &mut Tx<DB>, id: i64, tenant: &Tenant, touched: &portcullis_model::Touched) -> Result<(), StoreError> {
        let written = &mut Written::new(0, &|_, _| {});
        fn keys(set: &std::collections::BTreeSet<String>) -> Vec<&str> {
            set.iter().map(String::as_str).collect()
        }
        if touched.settings {
            Self::clear(tx, id, &["settings"]).await?;
            Self::insert_settings(tx, id, tenant, written).await?;
        }
        if touched.user_default {
            Self::clear(tx, id, &["user_default"]).await?;
            Self::insert_user_default(tx, id, tenant, written).await?;
        }
        if touched.everyone_roles {
            Self::clear(tx, id, &["everyone_roles"]).await?;
            Self::insert_everyone_roles(tx, id, tenant, written).await?;
        }
        if !touched.custom_roles.is_empty() {
            Self::delete_keyed(
                tx,
                id,
                &keys(&touched.custom_roles),
                &[("custom_roles", "name"), ("role_permissions", "role")],
            )
            .await?;
            let rows: Vec<CustomRole> = touched.custom_roles.iter().filter_map(|k| tenant.custom_roles.get(k)).cloned().collect();
            Self::insert_custom_roles(tx, id, &rows, written).await?;
            Self::replace_meta(tx, id, &keys(&touched.custom_roles), &rows, written).await?;
        }
        if !touched.groups.is_empty() {
            Self::delete_keyed(
                tx,
                id,
                &keys(&touched.groups),
                &[("tenant_groups", "name"), ("group_roles", "group_name")],
            )
            .await?;
            let rows: Vec<Group> = touched.groups.iter().filter_map(|k| tenant.groups.get(k)).cloned().collect();
            Self::insert_groups(tx, id, &rows, written).await?;
            Self::replace_meta(tx, id, &keys(&touched.groups), &rows, written).await?;
        }
        if !touched.users.is_empty() {
            Self::delete_keyed(
                tx,
                id,
                &keys(&touched.users),
                &[("users", "id"), ("user_roles", "user_id"), ("user_groups", "user_id")],
            )
            .await?;
            let rows: Vec<User> = touched.users.iter().filter_map(|k| tenant.users.get(k)).cloned().collect();
            Self::insert_users(tx, id, &rows, written).await?;
            Self::replace_meta(tx, id, &keys(&touched.users), &rows, written).await?;
        }
        if !touched.clients.is_empty() {
            Self::delete_keyed(
                tx,
                id,
                &keys(&touched.clients),
                &[("oauth_clients", "id"), ("oauth_client_scopes", "client_id")],
            )
            .await?;
            let rows: Vec<OauthClient> = touched.clients.iter().filter_map(|k| tenant.oauth_clients.get(k)).cloned().collect();
            Self::insert_clients(tx, id, &rows, written).await?;
            Self::replace_meta(tx, id, &keys(&touched.clients), &rows, written).await?;
        }
        if !touched.spaces.is_empty() {
            Self::delete_keyed(tx, id, &keys(&touched.spaces), &[("spaces", "id"), ("space_members", "space_id")]).await?;
            let rows: Vec<Space> = touched.spaces.iter().filter_map(|k| tenant.spaces.get(k)).cloned().collect();
            Self::insert_spaces(tx, id, &rows, written).await?;
            Self::replace_meta(tx, id, &keys(&touched.spaces), &rows, written).await?;
        }
        if !touched.content.is_empty() {
            Self::delete_keyed(
                tx,
                id,
                &keys(&touched.content),
                &[("content", "id"), ("shares", "resource"), ("uses", "consumer")],
            )
            .await?;
            let rows: Vec<Content> = touched.content.iter().filter_map(|k| tenant.content.get(k)).cloned().collect();
            Self::insert_content(tx, id, &rows, written).await?;
            // Per item: its shares and the `uses` it consumes, through the model's index.
            let shares: Vec<&Share> = touched.content.iter().flat_map(|k| tenant.shares.of(k)).collect();
            let uses: Vec<&Use> = touched.content.iter().flat_map(|k| tenant.uses.of(k)).collect();
            Self::insert_shares(tx, id, &shares, written).await?;
            Self::insert_uses(tx, id, &uses, written).await?;
        }
        Ok(())
    }
}

/// An entity that carries a [`Meta`], stored in `entity_meta` under its kind and key.
pub(crate) trait WithMeta {
    /// `entity_meta.kind`.
    const KIND: &'static str;
    /// Its key in the model.
    fn meta_key(&self) -> &str;
    /// Its meta.
    fn meta(&self) -> &Meta;
}

macro_rules! with_meta {
    ($($row:ty => $kind:literal, $key:ident;)*) => {
        $(impl WithMeta for $row {
            const KIND: &'static str = $kind;
            fn meta_key(&self) -> &str {
                &self.$key
            }
            fn meta(&self) -> &Meta {
                &self.meta
            }
        })*
    };
}

with_meta! {
    User => "user", id;
    Group => "group", name;
    CustomRole => "role", name;
    OauthClient => "client", id;
    Space => "space", id;
}

/// The set metas of `rows` as stored: `(kind, key, the model's JSON of the meta)`.
fn meta_rows<'a, T: WithMeta + 'a>(rows: impl IntoIterator<Item = &'a T>) -> Result<Vec<(&'static str, &'a str, String)>, StoreError> {
    rows.into_iter()
        .filter(|row| !row.meta().is_empty())
        .map(|row| {
            let json = serde_json::to_string(row.meta())
                .map_err(|e| StoreError::Database(format!("cannot write the meta of {} `{}`: {e}", T::KIND, row.meta_key())))?;
            Ok((T::KIND, row.meta_key(), json))
        })
        .collect()
}

/// How many `entity_meta` rows a tenant has.
fn n_metas(tenant: &Tenant) -> usize {
    let set = |meta: &Meta| !meta.is_empty();
    tenant.users.iter().filter(|r| set(&r.meta)).count()
        + tenant.groups.iter().filter(|r| set(&r.meta)).count()
        + tenant.custom_roles.iter().filter(|r| set(&r.meta)).count()
        + tenant.oauth_clients.iter().filter(|r| set(&r.meta)).count()
        + tenant.spaces.iter().filter(|r| set(&r.meta)).count()
}

/// Counts the rows an import has written and reports them with the total.
pub(super) struct Written<'a> {
    done: u64,
    total: u64,
    progress: ImportProgress<'a>,
}

impl<'a> Written<'a> {
    fn new(total: u64, progress: ImportProgress<'a>) -> Written<'a> {
        progress(0, total);
        Written { done: 0, total, progress }
    }

    fn add(&mut self, rows: usize) {
        self.done += rows as u64;
        (self.progress)(self.done, self.total.max(self.done));
    }
}

/// The rows [`Sql::write_model`] writes for `tenant`: one per entity and one per link of
/// each table group (permissions, roles, memberships, scopes, members, shares, uses).
fn model_rows(tenant: &Tenant) -> u64 {
    let rows = tenant.settings.len()
        + tenant.user_default.len()
        + tenant.everyone_roles.len()
        + tenant.custom_roles.iter().map(|r| 1 + r.permissions.len()).sum::<usize>()
        + tenant.groups.iter().map(|g| 1 + g.roles.len()).sum::<usize>()
        + tenant.users.iter().map(|u| 1 + u.roles.len() + u.groups.len()).sum::<usize>()
        + tenant.oauth_clients.iter().map(|c| 1 + c.scopes.len()).sum::<usize>()
        + tenant.spaces.iter().map(|s| 1 + s.members.len()).sum::<usize>()
        + tenant.content.len()
        + tenant.shares.len()
        + tenant.uses.len()
        + n_metas(tenant);
    rows as u64
}
