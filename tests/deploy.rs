//! The Kubernetes manifests in `deploy/k8s`, checked without a cluster:
//! every document against the Kubernetes API schema (it must read as the
//! typed object and write back as exactly what is in the file, so an unknown
//! or misspelt field, a wrong type or a missing required field fails), then
//! against the code it runs: each poker component deployed once, ports,
//! probes, the coordinator services clients look for, and an environment
//! our servers accept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use angzarr_client::settings::{parse_duration, parse_size, DEFAULT_MAX_MESSAGE_SIZE};
use angzarr_client::{ComponentKind, Target, DEFAULT_COORDINATOR_PORT, DEFAULT_SHUTDOWN_GRACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, PersistentVolumeClaim, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s")
}

/// Every document of every manifest, with the file it came from.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .expect("deploy/k8s exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|error| panic!("{}: not YAML: {error}", file.display()));
            if !value.is_null() {
                all.push((
                    file.file_name().unwrap().to_string_lossy().into_owned(),
                    value,
                ));
            }
        }
    }
    all
}

/// `value` read as a `T` and written back: equal to the original, or the
/// difference named.
fn conforms<T: DeserializeOwned + Serialize>(file: &str, value: &Value) -> Result<T, String> {
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|error| format!("{file}: {}: {error}", describe(value)))?;
    let back = serde_json::to_value(&typed).unwrap();
    if &back != value {
        let mut differences = Vec::new();
        diff("", value, &back, &mut differences);
        return Err(format!(
            "{file}: {}: not in the schema: {}",
            describe(value),
            differences.join("; ")
        ));
    }
    Ok(typed)
}

fn describe(value: &Value) -> String {
    format!(
        "{} {}",
        value["kind"].as_str().unwrap_or("?"),
        value["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn diff(at: &str, original: &Value, back: &Value, out: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => diff(&format!("{at}.{key}"), value, other, out),
                    None => out.push(format!("{at}.{key} is not a field")),
                }
            }
            // What the typed object writes that the file lacks: a required
            // field, filled with its empty default.
            for key in b.keys().filter(|key| !a.contains_key(*key)) {
                out.push(format!("{at}.{key} is required"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{at}[{index}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{at}: {a} reads as {b}")),
        _ => {}
    }
}

struct Manifests {
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    claims: Vec<PersistentVolumeClaim>,
    config_maps: Vec<ConfigMap>,
}

fn manifests() -> Manifests {
    let mut manifests = Manifests {
        deployments: Vec::new(),
        services: Vec::new(),
        claims: Vec::new(),
        config_maps: Vec::new(),
    };
    let mut problems = Vec::new();
    for (file, value) in documents() {
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let result = match (
            value["apiVersion"].as_str().unwrap_or_default(),
            kind.as_str(),
        ) {
            ("apps/v1", "Deployment") => {
                conforms(&file, &value).map(|d| manifests.deployments.push(d))
            }
            ("v1", "Service") => conforms(&file, &value).map(|s| manifests.services.push(s)),
            ("v1", "PersistentVolumeClaim") => {
                conforms(&file, &value).map(|c| manifests.claims.push(c))
            }
            ("v1", "ConfigMap") => conforms(&file, &value).map(|c| manifests.config_maps.push(c)),
            ("v1", "Namespace") => conforms::<Namespace>(&file, &value).map(|_| ()),
            (version, kind) => Err(format!("{file}: {kind} of {version} is not checked here")),
        };
        if let Err(problem) = result {
            problems.push(problem);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    manifests
}

#[test]
fn the_schema_check_catches_what_it_must() {
    let good: Value = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "ch-player"},
        "spec": {"ports": [{"port": 1310, "targetPort": "coordinator"}]}
    });
    assert!(conforms::<Service>("t", &good).is_ok());
    let mut misspelt = good.clone();
    misspelt["spec"]["ports"][0]["protcol"] = "TCP".into();
    let said = conforms::<Service>("t", &misspelt).unwrap_err();
    assert!(
        said.contains(".spec.ports[0].protcol is not a field"),
        "{said}"
    );
    let mut wrong_type = good.clone();
    wrong_type["spec"]["ports"][0]["port"] = "1310".into();
    assert!(conforms::<Service>("t", &wrong_type).is_err());
    let missing: Value = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"template": {}}
    });
    let said = conforms::<Deployment>("t", &missing).unwrap_err();
    assert!(said.contains(".spec.selector is required"), "{said}");
}

/// The container called `name` of the deployment's pods.
fn container<'a>(deployment: &'a Deployment, name: &str) -> &'a Container {
    let spec = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    spec.containers
        .iter()
        .find(|container| container.name == name)
        .unwrap_or_else(|| panic!("{:?} has a container {name}", deployment.metadata.name))
}

fn app(deployment: &Deployment) -> &Container {
    container(deployment, "app")
}

fn sidecar(deployment: &Deployment) -> &Container {
    container(deployment, "sidecar")
}

fn env(container: &Container) -> BTreeMap<String, Option<String>> {
    container
        .env
        .iter()
        .flatten()
        .map(|var| (var.name.clone(), var.value.clone()))
        .collect()
}

fn port_of(container: &Container, name: &str) -> i32 {
    container
        .ports
        .iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{} has a port {name}", container.name))
        .container_port
}

#[test]
fn every_document_is_a_valid_kubernetes_object() {
    let manifests = manifests();
    assert!(!manifests.deployments.is_empty());
    assert_eq!(manifests.config_maps.len(), 1);
}

#[test]
fn each_poker_component_runs_beside_the_sidecar_of_its_kind() {
    let manifests = manifests();
    // The upcaster is served with its aggregate, on the aggregate's port.
    let expected: Vec<(&str, ComponentKind)> = examples::poker::COMPONENTS
        .into_iter()
        .filter(|(_, kind)| *kind != ComponentKind::Upcaster)
        .collect();
    let deployed: Vec<&str> = manifests
        .deployments
        .iter()
        .map(|d| d.metadata.name.as_deref().unwrap())
        .collect();
    let mut wanted: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    let mut have = deployed.clone();
    wanted.sort_unstable();
    have.sort_unstable();
    assert_eq!(have, wanted, "one Deployment per component");

    for (name, kind) in expected {
        let deployment = manifests
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .unwrap();
        let app = app(deployment);
        let variables = env(app);
        assert_eq!(
            app.args.as_deref(),
            Some(&["serve".to_owned(), name.to_owned()][..])
        );
        let port = port_of(app, "grpc");
        assert_eq!(
            variables["TRANSPORT_TYPE"].as_deref(),
            Some("tcp"),
            "{name}"
        );
        assert_eq!(
            variables["PORT"],
            Some(port.to_string()),
            "{name}: PORT is the grpc port"
        );

        // Readiness asks our health service for the component's own service;
        // liveness only that it accepts connections.
        let readiness = app.readiness_probe.as_ref().unwrap().grpc.as_ref().unwrap();
        assert_eq!(readiness.port, port, "{name}");
        assert_eq!(
            readiness.service.as_deref(),
            Some(kind.service_name()),
            "{name}"
        );
        let liveness = app
            .liveness_probe
            .as_ref()
            .unwrap()
            .tcp_socket
            .as_ref()
            .unwrap();
        assert_eq!(liveness.port, IntOrString::Int(port), "{name}");

        // The sidecar calls the app where it listens.
        let sidecar = sidecar(deployment);
        let image = sidecar.image.as_deref().unwrap();
        let sidecar_kind = match kind {
            ComponentKind::Aggregate => "angzarr-aggregate",
            ComponentKind::Saga => "angzarr-saga",
            ComponentKind::ProcessManager => "angzarr-process-manager",
            ComponentKind::Projector => "angzarr-projector",
            ComponentKind::Upcaster => unreachable!(),
        };
        assert!(
            image.contains(&format!("/{sidecar_kind}:")),
            "{name}: {image}"
        );
        let side = env(sidecar);
        assert_eq!(
            side["ANGZARR_HANDLER_ADDRESS"],
            Some(format!("127.0.0.1:{port}")),
            "{name}"
        );

        // The drain and the grace for in-flight calls fit in the pod's
        // termination grace period.
        let drain = parse_duration(variables["SHUTDOWN_DRAIN"].as_deref().unwrap()).unwrap();
        let grace = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.as_ref())
            .and_then(|spec| spec.termination_grace_period_seconds)
            .unwrap();
        assert!(
            Duration::from_secs(u64::try_from(grace).unwrap()) > drain + DEFAULT_SHUTDOWN_GRACE,
            "{name}: terminationGracePeriodSeconds {grace} must outlast the drain and the grace"
        );
    }
}

#[test]
fn clients_find_each_aggregates_coordinator_where_the_sdk_looks() {
    let manifests = manifests();
    let namespace = "poker";
    let kustomization = std::fs::read_to_string(deploy_dir().join("kustomization.yaml")).unwrap();
    let kustomization: Value = serde_norway::from_str(&kustomization).unwrap();
    assert_eq!(kustomization["namespace"], namespace);
    for (domain, _) in examples::poker::COMPONENTS
        .into_iter()
        .filter(|(_, kind)| *kind == ComponentKind::Aggregate)
    {
        let target = Target::for_domain_with(domain, |name| match name {
            "ANGZARR_MODE" => Some("distributed".into()),
            "ANGZARR_NAMESPACE" => Some(namespace.into()),
            _ => None,
        })
        .unwrap();
        let service_name = format!("ch-{domain}");
        assert_eq!(
            target,
            Target::Http(format!(
                "http://{service_name}.{namespace}.svc:{DEFAULT_COORDINATOR_PORT}"
            ))
        );
        let service = manifests
            .services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(service_name.as_str()))
            .unwrap_or_else(|| panic!("a Service {service_name}"));
        let spec = service.spec.as_ref().unwrap();
        let port = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(port.port, i32::from(DEFAULT_COORDINATOR_PORT));
        // It selects the aggregate's pods and reaches the sidecar's port.
        let deployment = manifests
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(domain))
            .unwrap();
        let labels = deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        for (key, value) in spec.selector.as_ref().unwrap() {
            assert_eq!(
                labels.get(key),
                Some(value),
                "{service_name} selects {domain}'s pods"
            );
        }
        assert_eq!(
            port.target_port,
            Some(IntOrString::String("coordinator".into()))
        );
        assert_eq!(port_of(sidecar(deployment), "coordinator"), 1310);
        assert_eq!(
            env(sidecar(deployment))["ANGZARR_DOMAIN"].as_deref(),
            Some(domain)
        );
    }
}

#[test]
fn the_environment_is_what_our_servers_read_and_accept() {
    let manifests = manifests();
    let known = [
        "TRANSPORT_TYPE",
        "PORT",
        angzarr_client::SHUTDOWN_DRAIN_ENV,
        angzarr_client::MAX_MESSAGE_SIZE_ENV,
        angzarr_client::CALL_TIMEOUT_ENV,
        "RUST_LOG",
        "ANGZARR_LOG_FORMAT",
        examples::poker::SEATING_DB,
    ];
    for deployment in &manifests.deployments {
        let name = deployment.metadata.name.as_deref().unwrap();
        for (variable, value) in env(app(deployment)) {
            assert!(
                known.contains(&variable.as_str()),
                "{name}: {variable} is read by nothing"
            );
            let value = value.unwrap_or_else(|| panic!("{name}: {variable} has a value"));
            match variable.as_str() {
                "SHUTDOWN_DRAIN" | "CALL_TIMEOUT" => {
                    parse_duration(&value).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                "MAX_MESSAGE_SIZE" => assert_eq!(parse_size(&value), Ok(DEFAULT_MAX_MESSAGE_SIZE)),
                "PORT" => {
                    value
                        .parse::<u16>()
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                _ => {}
            }
        }
        // A read model on disk has its volume, claimed, mounted where the
        // component is told to open it.
        if let Some(path) = env(app(deployment)).get(examples::poker::SEATING_DB) {
            let path = path.as_deref().unwrap();
            let mounts = app(deployment).volume_mounts.as_ref().unwrap();
            let mount = mounts
                .iter()
                .find(|mount| path.starts_with(&mount.mount_path))
                .unwrap_or_else(|| panic!("{name}: {path} is on a volume"));
            let volumes = deployment
                .spec
                .as_ref()
                .and_then(|spec| spec.template.spec.as_ref())
                .and_then(|spec| spec.volumes.as_ref())
                .unwrap();
            let volume = volumes.iter().find(|v| v.name == mount.name).unwrap();
            let claim = &volume.persistent_volume_claim.as_ref().unwrap().claim_name;
            assert!(
                manifests
                    .claims
                    .iter()
                    .any(|c| c.metadata.name.as_ref() == Some(claim)),
                "{name}: the claim {claim} is declared"
            );
        }
    }
}
