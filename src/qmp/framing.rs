//! Splitting the QMP byte stream into lines, with a hard bound on line length.
//!
//! Pure and synchronous so that it can be tested exhaustively: bytes go in as they are read,
//! complete lines (or "this line was too long") come out. Memory never exceeds the limit plus
//! one read buffer, whatever the peer sends.

/// The longest line accepted from QEMU: 16 MiB.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One framed item: a complete line (without its newline) or a line that exceeded the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, newline and trailing `\r` removed.
    Line(Vec<u8>),
    /// A line longer than the limit; its bytes were discarded. Holds how many were seen.
    TooLong(usize),
}

/// Accumulates bytes and yields [`Frame`]s.
#[derive(Debug)]
pub struct LineFramer {
    limit: usize,
    partial: Vec<u8>,
    /// When set, the current line already exceeded the limit; counts its bytes.
    discarding: Option<usize>,
}

impl LineFramer {
    /// A framer that rejects lines longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        LineFramer {
            limit,
            partial: Vec::new(),
            discarding: None,
        }
    }

    /// Bytes of an unfinished line held right now (bounded by the limit; the tests check it).
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds a chunk of bytes, appending every frame it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Frame>) {
        while !chunk.is_empty() {
            let newline = memchr::memchr(b'\n', chunk);
            let (piece, rest, complete) = match newline {
                Some(at) => (&chunk[..at], &chunk[at + 1..], true),
                None => (chunk, &chunk[chunk.len()..], false),
            };
            chunk = rest;
            if let Some(seen) = self.discarding.as_mut() {
                *seen += piece.len();
            } else if self.partial.len() + piece.len() > self.limit {
                self.discarding = Some(self.partial.len() + piece.len());
                self.partial = Vec::new();
            } else {
                self.partial.extend_from_slice(piece);
            }
            if complete {
                if let Some(seen) = self.discarding.take() {
                    out.push(Frame::TooLong(seen));
                } else {
                    let mut line = std::mem::take(&mut self.partial);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        out.push(Frame::Line(line));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(limit: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut framer = LineFramer::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, &mut out);
        }
        out
    }

    #[test]
    fn splits_lines_across_chunks() {
        let out = frames(100, &[b"{\"a\"", b":1}\r\n{\"b\":2}\n", b"\n  \n{\"c\""]);
        assert_eq!(
            out,
            vec![
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::Line(b"{\"b\":2}".to_vec())
            ]
        );
    }

    #[test]
    fn too_long_line_is_reported_and_the_next_one_survives() {
        let long = [b'x'; 50];
        let out = frames(10, &[&long[..20], &long[20..], b"\nok\n"]);
        assert_eq!(out, vec![Frame::TooLong(50), Frame::Line(b"ok".to_vec())]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(data in proptest::collection::vec(any::<u8>(), 0..4096), limit in 1usize..64) {
            let mut framer = LineFramer::new(limit);
            let mut out = Vec::new();
            framer.feed(&data, &mut out);
            prop_assert!(framer.buffered() <= limit);
            for frame in out {
                if let Frame::Line(line) = frame {
                    prop_assert!(line.len() <= limit);
                }
            }
        }

        #[test]
        fn any_split_gives_the_same_frames(lines in proptest::collection::vec("[a-z{}:\" ]{1,40}", 1..10), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20)) {
            let joined: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            let whole = frames(1024, &[&joined]);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(joined.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for point in points {
                pieces.push(&joined[start..point]);
                start = point;
            }
            pieces.push(&joined[start..]);
            prop_assert_eq!(frames(1024, &pieces), whole);
        }
    }
}
