//! In-memory object storage with etcd-like revisions: every write bumps one global
//! revision, which becomes the written object's `resourceVersion`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::kinds::object;

/// Where an object lives: resource (plural), namespace (`""` when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Plural resource name.
    pub resource: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// A key.
    pub fn new(resource: &'static str, namespace: &str, name: &str) -> Key {
        Key {
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// A change, as watchers see it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Revision of the change.
    pub revision: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// Resource of the object.
    pub resource: &'static str,
    /// The object after the change (for deletes: the last state, with the delete revision).
    pub object: Value,
}

/// The object store.
#[derive(Debug)]
pub struct Store {
    revision: u64,
    objects: BTreeMap<Key, Value>,
    events: broadcast::Sender<Event>,
    history: VecDeque<Event>,
}

/// How many past changes a watch can resume from.
const HISTORY: usize = 4096;

impl Store {
    /// An empty store whose first write gets revision `start + 1`.
    pub fn new(start: u64) -> Store {
        Store {
            revision: start,
            objects: BTreeMap::new(),
            events: broadcast::channel(1024).0,
            history: VecDeque::new(),
        }
    }

    /// The current revision (a List's resourceVersion).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The object at `key`.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of `resource` (in `namespace` when given), sorted by namespace then name.
    pub fn list<'a>(
        &'a self,
        resource: &'static str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        let start = Key::new(resource, namespace.unwrap_or(""), "");
        self.objects.range(start..).take_while(move |(k, _)| {
            k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
        })
    }

    /// Stores `obj` at `key` with a fresh resourceVersion and returns the stored object.
    pub fn put(&mut self, key: Key, mut obj: Value) -> Value {
        self.revision += 1;
        object::set_meta_ordered(
            &mut obj,
            "resourceVersion",
            Value::String(self.revision.to_string()),
        );
        let kind = if self.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.publish(Event {
            revision: self.revision,
            kind,
            resource: key.resource,
            object: obj.clone(),
        });
        self.objects.insert(key, obj.clone());
        obj
    }

    /// Removes the object at `key`; returns its last state with the deletion's revision.
    pub fn delete(&mut self, key: &Key) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        self.revision += 1;
        object::set_meta_ordered(
            &mut obj,
            "resourceVersion",
            Value::String(self.revision.to_string()),
        );
        self.publish(Event {
            revision: self.revision,
            kind: "DELETED",
            resource: key.resource,
            object: obj.clone(),
        });
        Some(obj)
    }

    fn publish(&mut self, event: Event) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        let _ = self.events.send(event);
    }

    /// Changes after `revision`, or `None` when they are no longer all remembered.
    pub fn events_since(&self, revision: u64) -> Option<Vec<Event>> {
        let oldest = self
            .history
            .front()
            .map_or(self.revision, |e| e.revision.saturating_sub(1));
        if revision < oldest {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|e| e.revision > revision)
                .cloned()
                .collect(),
        )
    }

    /// True when the namespace exists.
    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects
            .contains_key(&Key::new("namespaces", "", namespace))
    }

    /// A receiver of every later change.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_bump_the_revision_and_lists_are_sorted() {
        let mut s = Store::new(100);
        s.put(
            Key::new("serviceaccounts", "b", "x"),
            json!({"metadata": {"name": "x"}}),
        );
        let stored = s.put(
            Key::new("serviceaccounts", "a", "y"),
            json!({"metadata": {"name": "y"}}),
        );
        assert_eq!(stored["metadata"]["resourceVersion"], "102");
        let names: Vec<&str> = s
            .list("serviceaccounts", None)
            .map(|(k, _)| k.namespace.as_str())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(s.list("serviceaccounts", Some("b")).count(), 1);
        let deleted = s
            .delete(&Key::new("serviceaccounts", "b", "x"))
            .expect("deleted");
        assert_eq!(deleted["metadata"]["resourceVersion"], "103");
    }
}
