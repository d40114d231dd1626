//! Writing output files whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Result};

/// Writes `contents` to `path` atomically (see [`write_atomically_with`]).
pub fn write_atomically(path: impl AsRef<Path>, contents: &[u8]) -> Result<()> {
    let path = path.as_ref();
    write_atomically_with(path, |out| {
        out.write_all(contents).map_err(|source| Error::Io {
            file: path.display().to_string(),
            source,
        })
    })
}

/// Writes a file atomically: `write` fills a temporary file beside `path` (same directory, so
/// the rename cannot cross file systems), which is flushed, synced to disk and only then
/// renamed over `path`. On any failure the temporary file is removed and an existing `path` is
/// left as it was: a reader never sees a half-written file.
pub fn write_atomically_with(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let temporary = temporary_beside(path);
    let io = |p: &Path| {
        let file = p.display().to_string();
        move |source| Error::Io { file, source }
    };
    let written = File::create(&temporary)
        .map_err(io(&temporary))
        .map(BufWriter::new)
        .and_then(|mut out| {
            write(&mut out)?;
            let file = out
                .into_inner()
                .map_err(|e| io(&temporary)(e.into_error()))?;
            file.sync_all().map_err(io(&temporary))
        })
        .and_then(|()| std::fs::rename(&temporary, path).map_err(io(path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `dir/.name.tmp-<pid>` for `dir/name`.
pub fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_or_leaves_untouched() {
        let dir = std::env::temp_dir().join(format!("stepwedge-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table.csv");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A directory in the way of the rename: the write fails, nothing is left behind.
        let blocked = dir.join("blocked");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(matches!(
            write_atomically(&blocked, b"x"),
            Err(Error::Io { .. })
        ));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
