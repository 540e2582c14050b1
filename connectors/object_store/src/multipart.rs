//! Multipart uploads: each part is written at its offset in a staged file as soon as
//! it is handed over (parts run concurrently; the offset is the sum of the earlier
//! parts' sizes, known when the part is given), and completion only commits the size
//! and renames the file into place.

use crate::errors::to_os;
use crate::meta;
use async_trait::async_trait;
use ferrofs_client::Client;
use ferrofs_client::staged::Staged;
use ferrofs_proto::namespace::{Attr, Timespec};
use object_store::path::Path;
use object_store::{MultipartUpload, PutPayload, PutResult, Result, UploadPart};

pub struct Upload {
    client: Client,
    location: Path,
    staged: Option<Staged>,
    ino: u64,
    parent: Attr,
    name: String,
    /// Bytes handed over so far: the offset of the next part.
    next: u64,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upload({}, {} bytes)", self.location, self.next)
    }
}

impl Upload {
    pub fn new(
        client: Client,
        location: Path,
        staged: Staged,
        parent: Attr,
        name: String,
    ) -> Upload {
        Upload {
            client,
            location,
            ino: staged.attr.ino,
            staged: Some(staged),
            parent,
            name,
            next: 0,
        }
    }
}

#[async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let offset = self.next;
        self.next += data.content_length() as u64;
        let (client, ino, location) = (self.client.clone(), self.ino, self.location.clone());
        Box::pin(async move {
            let parts: Vec<bytes::Bytes> = data.into_iter().collect();
            let reader = tokio_util::io::StreamReader::new(futures::stream::iter(
                parts.into_iter().map(Ok::<_, std::io::Error>),
            ));
            // Not durable one by one: the size is committed once, at completion.
            client
                .write_stream(ino, offset, reader, false)
                .await
                .map_err(|e| to_os(e, &location))?;
            Ok(())
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let Some(staged) = self.staged.take() else {
            return Err(crate::errors::generic(
                "upload already completed or aborted",
            ));
        };
        let attr = self
            .client
            .commit(self.ino, self.next, Some(Timespec::now()), true)
            .await
            .map_err(|e| to_os(e, &self.location))?;
        staged
            .publish(&self.client, &self.parent, &self.name, true)
            .await
            .map_err(|e| to_os(e, &self.location))?;
        Ok(PutResult {
            e_tag: meta(self.location.clone(), &attr).e_tag,
            version: None,
        })
    }

    async fn abort(&mut self) -> Result<()> {
        if let Some(s) = self.staged.take() {
            s.discard(&self.client).await;
        }
        Ok(())
    }
}
