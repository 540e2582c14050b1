//! User and group names for WebHDFS replies (Hadoop speaks names, ferrofs stores
//! numbers), from this host's `/etc/passwd` and `/etc/group`, read once.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

/// `name:x:id:...` lines of a passwd- or group-format file as id -> name.
fn parse(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

fn find(map: &HashMap<u32, String>, name: &str) -> Option<u32> {
    map.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
}

impl Names {
    pub fn load() -> Names {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Names {
            users: parse(&read("/etc/passwd")),
            groups: parse(&read("/etc/group")),
        }
    }

    pub fn user(&self, uid: u32) -> String {
        match self.users.get(&uid) {
            Some(n) => n.clone(),
            None if uid == 0 => "root".into(),
            None => uid.to_string(),
        }
    }

    pub fn group(&self, gid: u32) -> String {
        match self.groups.get(&gid) {
            Some(n) => n.clone(),
            None if gid == 0 => "root".into(),
            None => gid.to_string(),
        }
    }

    /// A user name (or number) as a uid.
    pub fn uid(&self, name: &str) -> Option<u32> {
        name.parse()
            .ok()
            .or_else(|| find(&self.users, name))
            .or((name == "root").then_some(0))
    }

    pub fn gid(&self, name: &str) -> Option<u32> {
        name.parse()
            .ok()
            .or_else(|| find(&self.groups, name))
            .or((name == "root").then_some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_map_ids_to_names_and_back() {
        let n = Names {
            users: parse(
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nbad line\n",
            ),
            groups: parse("wheel:x:10:alice\n"),
        };
        assert_eq!(n.user(65534), "nobody");
        assert_eq!(n.user(1234), "1234");
        assert_eq!(n.group(10), "wheel");
        assert_eq!(n.uid("nobody"), Some(65534));
        assert_eq!(n.uid("42"), Some(42));
        assert_eq!(n.uid("ghost"), None);
        assert_eq!(n.gid("wheel"), Some(10));
    }
}
