//! The state table on DynamoDB: one item per service, key `service`, every write conditional.
//! An item holds the snapshot (`desired`, `min`, `max`, `suspended`), `version`, `saved_by`,
//! `saved_at`, and while a run writes the service's counts `held_by` and `held_until`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType, TableStatus,
};

use super::sdk::Sdk;
use super::{SnapshotTable, StateTables};
use crate::error::{AwsError, ErrorKind};
use crate::state::{Capacity, Entry, Holder, Snapshot, Suspended};

/// The key attribute.
const KEY: &str = "service";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(KEY.to_string(), s(key))])
}

/// An item as the table holds it, back into an entry; an item our types cannot hold is named.
fn entry(item: &HashMap<String, AttributeValue>) -> Result<(String, Entry), AwsError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok());
    let key = text(KEY).unwrap_or_default();
    let bad = |what: &str| {
        AwsError::in_response("BatchGetItem", ErrorKind::Invalid, format!("the state table's entry `{key}` {what}"))
    };
    let count =
        |name: &str| number(name).map(|v| u32::try_from(v).map_err(|_| bad(&format!("has {name} {v}")))).transpose();
    let desired = count("desired")?.ok_or_else(|| bad("has no desired count"))?;
    let suspended = match text("suspended") {
        None => Suspended::NONE,
        Some(v) => Suspended::decode(&v).ok_or_else(|| bad(&format!("has suspended `{v}`")))?,
    };
    let capacity = match (count("min")?, count("max")?) {
        (Some(min), Some(max)) => Some(Capacity { min, max, suspended }),
        (None, None) => None,
        _ => return Err(bad("has min without max or max without min")),
    };
    let entry = Entry {
        snapshot: Snapshot { desired, capacity },
        version: number("version").ok_or_else(|| bad("has no version"))?,
        saved_by: text("saved_by").unwrap_or_default(),
        saved_at: text("saved_at").unwrap_or_default(),
        held_by: text("held_by"),
        held_until: number("held_until").unwrap_or(0),
    };
    Ok((key.clone(), entry))
}

impl SnapshotTable for Sdk {
    async fn entries(&self, table: &str, keys: &[String]) -> Result<Vec<(String, Entry)>, AwsError> {
        let mut wanted: Vec<HashMap<String, AttributeValue>> = keys.iter().map(|k| key(k)).collect();
        let mut found = Vec::new();
        // Keys DynamoDB leaves unprocessed (capacity) are asked again, a few times.
        for _ in 0..5 {
            if wanted.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut wanted)))
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::in_response("BatchGetItem", ErrorKind::Invalid, e.to_string()))?;
            let out = self
                .pace
                .call("BatchGetItem", || async {
                    self.dynamodb
                        .batch_get_item()
                        .request_items(table, request.clone())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("BatchGetItem", e))
                })
                .await?;
            for item in out.responses().and_then(|r| r.get(table)).into_iter().flatten() {
                found.push(entry(item)?);
            }
            wanted = out.unprocessed_keys().and_then(|u| u.get(table)).map(|k| k.keys().to_vec()).unwrap_or_default();
        }
        if !wanted.is_empty() {
            let why = format!("{} keys stayed unprocessed", wanted.len());
            return Err(AwsError::in_response("BatchGetItem", ErrorKind::Throttled, why));
        }
        Ok(found)
    }

    async fn create_entry(&self, table: &str, key: &str, snapshot: &Snapshot, holder: &Holder) -> Result<(), AwsError> {
        let mut item = HashMap::from([
            (KEY.to_string(), s(key)),
            ("desired".to_string(), n(snapshot.desired)),
            ("version".to_string(), n(1)),
            ("saved_by".to_string(), s(format!("{} ({})", holder.doing, holder.id))),
            ("saved_at".to_string(), s(&holder.now_text)),
            ("held_by".to_string(), s(&holder.id)),
            ("held_until".to_string(), n(holder.until)),
        ]);
        if let Some(c) = snapshot.capacity {
            item.insert("min".into(), n(c.min));
            item.insert("max".into(), n(c.max));
            item.insert("suspended".into(), s(c.suspended.encode()));
        }
        self.pace
            .call("PutItem", || async {
                self.dynamodb
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#key)")
                    .expression_attribute_names("#key", KEY)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PutItem", e))
            })
            .await?;
        Ok(())
    }

    async fn hold_entry(&self, table: &str, key_: &str, version: u64, holder: &Holder) -> Result<(), AwsError> {
        self.pace
            .call("UpdateItem", || async {
                self.dynamodb
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key(key_)))
                    .update_expression("SET version = version + :one, held_by = :me, held_until = :until")
                    .condition_expression(
                        "version = :version AND (attribute_not_exists(held_by) OR held_by = :me OR held_until < :now)",
                    )
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":me", s(&holder.id))
                    .expression_attribute_values(":until", n(holder.until))
                    .expression_attribute_values(":version", n(version))
                    .expression_attribute_values(":now", n(holder.now))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateItem", e))
            })
            .await?;
        Ok(())
    }

    async fn release_entry(&self, table: &str, key_: &str, holder: &Holder) -> Result<(), AwsError> {
        self.pace
            .call("UpdateItem", || async {
                self.dynamodb
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key(key_)))
                    .update_expression("SET version = version + :one REMOVE held_by, held_until")
                    .condition_expression("held_by = :me")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":me", s(&holder.id))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateItem", e))
            })
            .await?;
        Ok(())
    }

    async fn delete_entry(&self, table: &str, key_: &str, holder: &Holder) -> Result<(), AwsError> {
        self.pace
            .call("DeleteItem", || async {
                self.dynamodb
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(key(key_)))
                    .condition_expression("held_by = :me")
                    .expression_attribute_values(":me", s(&holder.id))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeleteItem", e))
            })
            .await?;
        Ok(())
    }
}

impl StateTables for Sdk {
    async fn create_state_table(&self, table: &str) -> Result<bool, AwsError> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| {
            AwsError::in_response("CreateTable", ErrorKind::Invalid, e.to_string())
        };
        let created = self
            .dynamodb
            .create_table()
            .table_name(table)
            .key_schema(
                KeySchemaElement::builder().attribute_name(KEY).key_type(KeyType::Hash).build().map_err(invalid)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(invalid)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        let new = match created {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => false,
            Err(e) => return Err(AwsError::from_sdk("CreateTable", e)),
        };
        // A new table takes a few seconds to become ACTIVE.
        for _ in 0..60 {
            let out = self
                .dynamodb
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeTable", e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(new);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(AwsError::in_response(
            "DescribeTable",
            ErrorKind::Timeout,
            format!("table {table} is not ACTIVE after 60 s"),
        ))
    }
}
