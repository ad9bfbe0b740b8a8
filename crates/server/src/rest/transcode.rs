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
const FORWARDED: [&str; 2] = ["authorization", "grpc-timeout"];

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
pub(crate) async fn call_raw<Q: prost::Message>(
    grpc: &Grpc,
    path: &str,
    headers: &HeaderMap,
    message: Q,
) -> Result<Vec<Bytes>, RestError> {
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
    let request = request
        .body(Body::new(Full::new(body.freeze())))
        .expect("a valid request");
    let response = grpc
        .clone()
        .oneshot(request)
        .await
        .map_err(|error| RestError::internal(&error))?;
    let (parts, body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers)
        && status.code() != tonic::Code::Ok
    {
        return Err(status.into());
    }
    let collected = body
        .collect()
        .await
        .map_err(|error| RestError::internal(&error))?;
    if let Some(status) = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        && status.code() != tonic::Code::Ok
    {
        return Err(status.into());
    }
    frames(collected.to_bytes())
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
