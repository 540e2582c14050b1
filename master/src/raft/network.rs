//! Raft messages between master members: postcard bodies over the members' HTTP
//! listeners (`ferrofs_proto::raft` paths), authenticated with the cluster secret.
//! A connection failure is `Unreachable` (openraft backs off before trying again); a
//! refusal by the other member's Raft comes back as its `RaftError`.

use super::{Member, NodeId, TypeConfig};
use ferrofs_proto::raft::{APPEND, SNAPSHOT, VOTE};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Content type of Raft message bodies.
pub const POSTCARD: &str = "application/x-postcard";

#[derive(Clone)]
pub struct Network {
    http: reqwest::Client,
    secret: String,
    scheme: &'static str,
}

impl Network {
    pub fn new(http: reqwest::Client, secret: String, scheme: &'static str) -> Self {
        Network {
            http,
            secret,
            scheme,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Conn;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Conn {
        Conn {
            target,
            base: format!("{}://{}", self.scheme, node.addr),
            net: self.clone(),
        }
    }
}

pub struct Conn {
    target: NodeId,
    base: String,
    net: Network,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

impl Conn {
    async fn send<Q, R, E>(
        &self,
        path: &str,
        req: &Q,
        opt: &RPCOption,
    ) -> Result<R, RPCError<NodeId, Member, RaftError<NodeId, E>>>
    where
        Q: Serialize,
        R: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body =
            postcard::to_allocvec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let resp = self
            .net
            .http
            .post(format!("{}{path}", self.base))
            .header(ferrofs_proto::SECRET_HEADER, &self.net.secret)
            .header(reqwest::header::CONTENT_TYPE, POSTCARD)
            .timeout(opt.hard_ttl())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            return Err(RPCError::Network(NetworkError::new(&Msg(format!(
                "{status}: {text}"
            )))));
        }
        let res: Result<R, RaftError<NodeId, E>> =
            postcard::from_bytes(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.send(APPEND, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Member, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.send(SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.send(VOTE, &rpc, &option).await
    }
}
