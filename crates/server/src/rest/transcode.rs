//! A REST call becomes a gRPC call to the same services, in process and through the same guard:
//! the token check, the grants, the limits, the validation and the answer are those of gRPC.

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use tonic::body::Body;
use tower::ServiceExt;

use super::Grpc;
use super::error::RestError;

/// Headers a REST caller sends that mean the same to gRPC.
const FORWARDED: [&str; 4] = [
    "authorization",
    "grpc-timeout",
    crate::trace_context::TRACE_HEADERS[0],
    crate::trace_context::TRACE_HEADERS[1],
];

/// Calls the gRPC method `path` (`/talkhouse.v1.Service/Method`) with `message`.
pub(crate) async fn call<Q, A>(
    grpc: &Grpc,
    path: &str,
    headers: &HeaderMap,
    message: Q,
) -> Result<A, RestError>
where
    Q: prost::Message,
    A: prost::Message + Default,
{
    let frames = call_raw(grpc, path, headers, message).await?;
    let mut frames = frames.into_iter();
    let frame = frames.next().unwrap_or_default();
    A::decode(frame).map_err(|error| RestError::internal(&error))
}

/// Calls a gRPC method; the messages of its answer, undecoded (one for a unary method).
async fn call_raw<Q: prost::Message>(
    grpc: &Grpc,
    path: &str,
    headers: &HeaderMap,
    message: Q,
) -> Result<Vec<Bytes>, RestError> {
    let request = request(path, headers, message);
    let response = grpc
        .clone()
        .oneshot(request)
        .await
        .map_err(|error| RestError::internal(&error))?;
    let (parts, body) = response.into_parts();
    if let Some(status) = refusal(&parts.headers) {
        return Err(status.into());
    }
    let collected = body
        .collect()
        .await
        .map_err(|error| RestError::internal(&error))?;
    if let Some(status) = collected.trailers().and_then(refusal) {
        return Err(status.into());
    }
    frames(collected.to_bytes())
}

/// The refusal the headers or trailers of a gRPC answer carry, if any.
fn refusal(map: &HeaderMap) -> Option<tonic::Status> {
    tonic::Status::from_header_map(map).filter(|status| status.code() != tonic::Code::Ok)
}

/// The gRPC request of `message` to the method `path`, with the caller's forwarded headers.
fn request<Q: prost::Message>(path: &str, headers: &HeaderMap, message: Q) -> http::Request<Body> {
    let mut body = BytesMut::with_capacity(5 + message.encoded_len());
    body.extend_from_slice(&[0]);
    body.extend_from_slice(&(message.encoded_len() as u32).to_be_bytes());
    message
        .encode(&mut body)
        .expect("a buffer of the encoded length has room");
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for name in FORWARDED {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    request
        .extension(crate::metrics::Surface::rest)
        .body(Body::new(Full::new(body.freeze())))
        .expect("a valid request")
}

/// The messages of a gRPC body: each a flag byte, a 4-byte length and the message.
fn frames(mut bytes: Bytes) -> Result<Vec<Bytes>, RestError> {
    let mut frames = Vec::new();
    while bytes.remaining() >= 5 {
        let _compressed = bytes.get_u8();
        let length = bytes.get_u32() as usize;
        if bytes.remaining() < length {
            return Err(RestError::internal(&std::io::Error::other(
                "a gRPC answer ended inside a message",
            )));
        }
        frames.push(bytes.split_to(length));
    }
    Ok(frames)
}

/// Calls a server-streaming gRPC method; the messages of its answer as they come. A refusal
/// before the first message is the error; a failure after it ends the stream with an error, so
/// that an HTTP client sees the transfer broken rather than a short file.
pub(crate) async fn stream<Q, A>(
    grpc: &Grpc,
    path: &str,
    headers: &HeaderMap,
    message: Q,
) -> Result<futures::stream::BoxStream<'static, Result<A, std::io::Error>>, RestError>
where
    Q: prost::Message,
    A: prost::Message + Default + 'static,
{
    use futures::StreamExt;

    let response = grpc
        .clone()
        .oneshot(request(path, headers, message))
        .await
        .map_err(|error| RestError::internal(&error))?;
    let (parts, body) = response.into_parts();
    if let Some(status) = refusal(&parts.headers) {
        return Err(status.into());
    }
    let messages = futures::stream::unfold(
        (body, BytesMut::new(), false),
        |(mut body, mut buffer, done)| async move {
            loop {
                if buffer.len() >= 5 {
                    let length = u32::from_be_bytes(buffer[1..5].try_into().expect("4 bytes"));
                    let length = length as usize;
                    if buffer.len() >= 5 + length {
                        buffer.advance(5);
                        let frame = buffer.split_to(length).freeze();
                        let decoded = A::decode(frame).map_err(std::io::Error::other);
                        return Some((decoded, (body, buffer, done)));
                    }
                }
                if done {
                    return None;
                }
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(status) = frame.trailers_ref().and_then(refusal) {
                            let error = std::io::Error::other(status.message().to_string());
                            return Some((Err(error), (body, buffer, true)));
                        }
                        if let Ok(data) = frame.into_data() {
                            buffer.extend_from_slice(&data);
                        }
                    }
                    Some(Err(error)) => {
                        let error = std::io::Error::other(error.to_string());
                        return Some((Err(error), (body, buffer, true)));
                    }
                    None => return None,
                }
            }
        },
    );
    Ok(messages.boxed())
}
