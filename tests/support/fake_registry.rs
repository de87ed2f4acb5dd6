//! A fake Confluent Schema Registry: no real registry can be installed on these machines (see
//! shared/test-infrastructure.md), so the tests of the SDK's `kafka` feature run against this
//! one, and say so. It implements the three endpoints the SDK and the validator use —
//! `POST /subjects/{subject}/versions` (the same schema under the same subject keeps its id,
//! like the real one), `GET /schemas/ids/{id}` and `GET /subjects` — and can be switched to
//! answer 503 (down) or 409 (incompatible) to registrations. It runs on its own thread and
//! runtime, so a test may call it from blocking code.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How registrations are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Registered (or found), answered with the id.
    Normal,
    /// HTTP 503, as a registry that is down behind its load balancer.
    Unavailable,
    /// HTTP 409, as a real registry refusing a schema incompatible with the subject.
    Incompatible,
}

#[derive(Debug)]
struct Registry {
    /// Schema texts by id − 1.
    schemas: Vec<String>,
    /// Ids registered under each subject.
    subjects: BTreeMap<String, Vec<u32>>,
    mode: Mode,
    posts: usize,
}

type Shared = Arc<Mutex<Registry>>;

/// A running fake registry.
#[derive(Debug, Clone)]
pub struct FakeRegistry {
    pub url: String,
    state: Shared,
}

impl FakeRegistry {
    /// Starts one on a free port of 127.0.0.1.
    pub fn start() -> FakeRegistry {
        let state: Shared = Arc::new(Mutex::new(Registry {
            schemas: Vec::new(),
            subjects: BTreeMap::new(),
            mode: Mode::Normal,
            posts: 0,
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/subjects", get(list_subjects))
            .route("/subjects/{subject}/versions", post(register))
            .route("/schemas/ids/{id}", get(by_id))
            .with_state(state.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeRegistry { url, state }
    }

    /// Changes how registrations are answered from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Ids registered under each subject.
    pub fn subjects(&self) -> BTreeMap<String, Vec<u32>> {
        self.state.lock().unwrap().subjects.clone()
    }

    /// Registration requests received, answered or not.
    pub fn posts(&self) -> usize {
        self.state.lock().unwrap().posts
    }
}

async fn list_subjects(State(state): State<Shared>) -> Json<Vec<String>> {
    Json(state.lock().unwrap().subjects.keys().cloned().collect())
}

async fn register(State(state): State<Shared>, Path(subject): Path<String>, body: String) -> Response {
    let mut reg = state.lock().unwrap();
    reg.posts += 1;
    match reg.mode {
        Mode::Unavailable => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error_code": 50302, "message": "Service Unavailable"})),
            )
                .into_response();
        }
        Mode::Incompatible => {
            let message = "Schema being registered is incompatible with an earlier schema for subject";
            return (StatusCode::CONFLICT, Json(json!({"error_code": 409, "message": message})))
                .into_response();
        }
        Mode::Normal => {}
    }
    let Some(schema) =
        serde_json::from_str::<Value>(&body).ok().and_then(|b| b["schema"].as_str().map(String::from))
    else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "Invalid schema"})),
        )
            .into_response();
    };
    let parsed: Option<Value> = serde_json::from_str(&schema).ok();
    if parsed.is_none() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "Invalid schema"})),
        )
            .into_response();
    }
    // The same schema (parsed-equal) has one global id, under any subject.
    let known = reg.schemas.iter().position(|s| serde_json::from_str::<Value>(s).ok() == parsed);
    let id = match known {
        Some(i) => u32::try_from(i + 1).unwrap(),
        None => {
            reg.schemas.push(schema);
            u32::try_from(reg.schemas.len()).unwrap()
        }
    };
    let ids = reg.subjects.entry(subject).or_default();
    if !ids.contains(&id) {
        ids.push(id);
    }
    Json(json!({ "id": id })).into_response()
}

async fn by_id(State(state): State<Shared>, Path(id): Path<u32>) -> Response {
    let reg = state.lock().unwrap();
    match id.checked_sub(1).and_then(|i| reg.schemas.get(i as usize)) {
        Some(schema) => Json(json!({ "schema": schema })).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error_code": 40403, "message": "Schema not found"})))
            .into_response(),
    }
}
