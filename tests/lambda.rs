//! The binary as the Lambda service runs it: `AWS_LAMBDA_RUNTIME_API` set, events fetched from
//! a fake Runtime API on 127.0.0.1, AWS calls going to moto. Shows what each invocation answers
//! and what it logs.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Moto, REGION};

/// What the function sent back for one event: `response` or `error`, and the body.
#[derive(Debug)]
struct Answer {
    kind: String,
    body: Value,
}

/// One HTTP request on its own connection (every answer says `Connection: close`).
fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

/// Serve `events` one per `next` request and collect the function's answers.
fn serve(listener: TcpListener, events: Vec<Value>) -> Vec<Answer> {
    let mut pending = events.into_iter().enumerate();
    let mut answers = Vec::new();
    let expected = pending.len();
    listener.set_nonblocking(false).unwrap();
    while answers.len() < expected {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let Some((method, path, body)) = read_request(&mut stream) else { continue };
        if method == "GET" && path.ends_with("/invocation/next") {
            let (i, event) = pending.next().expect("the function asks for an event only after answering");
            let body = event.to_string();
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 60_000;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{i}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{REGION}:123456789012:function:ecs-cost-saver\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        } else {
            let kind = path.rsplit('/').next().unwrap().to_string();
            answers.push(Answer { kind, body: serde_json::from_slice(&body).unwrap_or(Value::Null) });
            write!(stream, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        }
    }
    answers
}

#[tokio::test]
async fn the_lambda_answers_each_event_and_logs_the_report_as_one_json_line() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let dir = std::env::temp_dir().join(format!("ecs-cost-saver-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schedule: PathBuf = dir.join("schedule.yaml");
    std::fs::write(
        &schedule,
        "environments:\n  staging:\n    services:\n      - { cluster: alpha, service: svc-a }\n      - { cluster: alpha, service: svc-b }\n  broken:\n    services:\n      - { cluster: alpha, service: svc-gone }\n",
    )
    .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-cost-saver"))
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "ecs-cost-saver")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("SCHEDULE_FILE", &schedule)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("RUST_LOG", "error")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let events = vec![
        json!({"action": "stop", "environment": "staging"}),
        json!({"action": "stop", "environment": "prod"}),
        json!({"action": "stop", "environment": "broken"}),
        json!({"source": "aws.ecs", "detail-type": "ECS Service Action", "detail": {}}),
    ];
    let answers = tokio::task::spawn_blocking(move || serve(listener, events)).await.unwrap();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // 1. A good stop: the report is the response.
    assert_eq!(answers[0].kind, "response");
    let report = &answers[0].body;
    let outcomes = support::outcomes(report);
    assert_eq!(outcomes, vec![("svc-a", "changed", 0), ("svc-b", "changed", 0)]);

    // 2. Refused input: an error naming the problem, nothing logged as a report.
    assert_eq!(answers[1].kind, "error");
    assert_eq!(answers[1].body["errorType"], "InvalidInput");
    assert_eq!(answers[1].body["errorMessage"], "unknown environment `prod`; valid environments: broken, staging");

    // 3. A failed service: the report is logged first, then the invocation fails (so the DLQ
    //    catches it); a service that is not there will not come back by retrying: permanent.
    assert_eq!(answers[2].kind, "error");
    assert_eq!(answers[2].body["errorType"], "ServicesFailedPermanently");
    assert_eq!(
        answers[2].body["errorMessage"],
        "stop broken: 1 of 1 failed: alpha/svc-gone [not_found]: service svc-gone not found in cluster alpha (DescribeServices: MISSING)"
    );

    // 4. An event this version does not handle: a clear, non-retryable error.
    assert_eq!(answers[3].kind, "error");
    assert_eq!(answers[3].body["errorType"], "UnsupportedEvent");

    // The log (JSON format, as Terraform configures it): every line is JSON; exactly one line
    // per report (invocations 1 and 3), equal to what was returned; the refusals are logged as
    // errors.
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let logged: Vec<&Value> = lines.iter().filter(|l| l.get("services").is_some()).collect();
    assert_eq!(logged.len(), 2, "{stdout}");
    // (Once the fake Runtime API has served the last event it goes away, and the runtime may log
    // that it stopped before the test kills it: only the refusals are counted.)
    let errors: Vec<&str> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "input rejected")
        .filter_map(|l| l["fields"]["error"].as_str())
        .collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert_eq!(logged[0], report);
    assert_eq!(logged[1]["environment"], "broken");
    assert_eq!(logged[1]["services"][0]["outcome"], "failed");

    // Each report is followed by its metrics line (Embedded Metric Format): the good stop's
    // and the failed one's, which says so; the refusals have none.
    let metrics: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(metrics.len(), 2, "{stdout}");
    for (m, (environment, succeeded, changed)) in metrics.iter().zip([("staging", 1.0, 2.0), ("broken", 0.0, 0.0)]) {
        assert_eq!(m["_aws"]["CloudWatchMetrics"][0]["Namespace"], "EcsCostSaver");
        assert_eq!((m["Environment"].as_str(), m["Action"].as_str()), (Some(environment), Some("stop")));
        assert_eq!((m["RunSucceeded"].as_f64(), m["ServicesChanged"].as_f64()), (Some(succeeded), Some(changed)));
        assert!(m["DurationMs"].as_f64().is_some_and(|ms| ms > 0.0), "{m}");
    }
    let position = |v: &Value| lines.iter().position(|l| l == v).unwrap();
    assert_eq!(position(metrics[0]), position(logged[0]) + 1, "the metrics line follows its report");
    // The function returns the report with its one-line summary (what a notification shows).
    assert_eq!(
        report["summary"].as_str().unwrap().split(';').next(),
        Some("stop staging: 2 services: 2 changed, 0 unchanged, 0 skipped, 0 failed")
    );
}
