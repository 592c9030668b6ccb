//! The store's integration tests: one contract suite ([`contract`]) run on every backend —
//! SQLite in a temporary file, PostgreSQL in a fresh schema per test (skipped, by name,
//! when no PostgreSQL answers, unless `PORTCULLIS_REQUIRE_POSTGRES=1`).

mod audit;
mod contract;
mod credentials;
mod feed;
mod harness;
mod integrity;
mod reach;
mod rule_sites;
mod sessions;

/// Declares each contract test once per backend, so every test has its own name on each.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let harness = crate::harness::SqliteHarness::new();
                    crate::contract::$name(&harness).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(harness) = crate::harness::PgHarness::new(stringify!($name)).await else { return };
                    crate::contract::$name(&harness).await;
                    harness.drop_schema().await;
                }
            )*
        }
    };
}

contract_tests!(
    import_then_load_gives_the_same_tenant,
    import_keeps_an_existing_tenant_unless_replace,
    an_import_reports_every_row_it_writes,
    a_failed_import_changes_nothing,
    changes_follow_the_model_and_bump_the_revision,
    content_writes_store_what_the_model_holds,
    refused_changes_write_nothing,
    record_login_stores_toggle_roles,
    committed_changes_store_touched_rows_and_log_each_change,
    tenants_are_isolated,
    api_keys_are_stored_hashed_and_revocable,
    oauth_secrets_and_tokens_round_trip,
    delete_tenant_removes_everything,
    random_writes_store_exactly_the_model,
    history_rewinds_to_every_revision,
    a_read_during_writes_sees_one_revision,
    a_damaged_row_is_reported_not_loaded,
    data_survives_reopening,
    concurrent_writes_each_get_their_own_revision,
    each_write_leaves_exactly_one_event,
    refused_writes_leave_no_event,
    commit_changes_writes_the_touched_rows_and_refuses_a_stale_base,
    commit_batch_gives_each_write_its_revision_log_and_events,
    tampering_is_found_by_verify,
    queries_filter_and_page,
    archiving_moves_the_anchor_and_verify_continues,
    audit_settings_round_trip,
    deleting_a_user_retires_its_credentials,
    deleting_a_client_retires_its_secrets_and_tokens,
    client_secrets_are_listed_by_hint_limited_and_revoked,
    replacing_a_tenant_retires_what_it_leaves_out,
    identifiers_are_never_handed_out_twice,
    token_issuance_is_checked_and_audited,
    migration_4_keeps_ids_and_stops_reuse,
    issue_11_a_rewritten_and_recomputed_chain_is_found,
    issue_11_truncation_with_the_anchor_moved_back_is_found_with_checkpoints,
    issue_11_deleting_every_event_and_the_anchor_is_found_with_checkpoints,
    issue_11_an_edited_user_id_column_is_found,
    issue_11_a_wrong_key_is_a_clear_error,
    events_sealed_before_the_key_still_verify,
    a_signed_archive_anchor_cannot_be_moved,
    the_tail_and_the_heads_are_read_cheaply,
    the_log_after_a_revision_replays_to_the_stored_tenant,
    rule_sites_are_created_replaced_and_deleted_with_revisions,
    a_stale_site_revision_writes_nothing,
    site_limits_refuse_a_write_whole,
    a_login_stores_its_session_with_a_revision_of_its_own,
    api_key_settings_bound_new_keys_and_keys_are_renamed_and_deleted,
    meta_and_renames_are_stored_and_replayed,
    a_deleted_owners_spaces_and_content_are_left_without_an_owner,
    export_marks_are_stored_and_replayed,
);

#[tokio::test]
async fn postgres_every_committed_write_notifies() {
    let Some(harness) = crate::harness::PgHarness::new("every_committed_write_notifies").await else {
        return;
    };
    let Some(other) = crate::harness::PgHarness::new("every_committed_write_notifies_other").await else {
        return;
    };
    crate::feed::postgres_every_committed_write_notifies(&harness, &other).await;
    harness.drop_schema().await;
    other.drop_schema().await;
}

#[tokio::test]
async fn postgres_a_lost_listener_listens_again_and_resyncs() {
    let Some(harness) = crate::harness::PgHarness::new("a_lost_listener_listens_again").await else {
        return;
    };
    crate::feed::postgres_a_lost_listener_listens_again_and_resyncs(&harness).await;
    harness.drop_schema().await;
}

#[tokio::test]
async fn postgres_calls_are_refused_at_once_while_the_database_is_down() {
    let Some(harness) = crate::harness::PgHarness::new("refused_at_once_while_down").await else {
        return;
    };
    crate::reach::postgres_calls_are_refused_at_once_while_the_database_is_down(&harness).await;
    harness.drop_schema().await;
}
