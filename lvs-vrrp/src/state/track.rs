//! Tracked inputs (keepalived `track_script`, `track_interface`, `track_file` ...) and the
//! effective priority.
//!
//! Each input has a name, an up/down state and a weight in -253..=253:
//!
//! * a positive weight is added while the input is **up**;
//! * a negative weight is added while the input is **down**;
//! * weight 0 puts the instance into [`super::State::Fault`] while the input is down.
//!
//! The effective priority is the base priority plus those weights, clamped to 1..=254. The
//! address owner (base 255) keeps 255 whatever its inputs say.

/// One tracked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Its name.
    pub name: String,
    /// Whether it is up.
    pub up: bool,
    /// Its weight (-253..=253).
    pub weight: i16,
}

impl Track {
    /// The priority change this input contributes now.
    fn contribution(&self) -> i32 {
        match (self.up, self.weight) {
            (true, w) if w > 0 => i32::from(w),
            (false, w) if w < 0 => i32::from(w),
            _ => 0,
        }
    }

    /// Whether this input puts the instance into fault.
    fn faulted(&self) -> bool {
        !self.up && self.weight == 0
    }
}

/// The tracked inputs of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tracks {
    list: Vec<Track>,
}

impl Tracks {
    /// Insert or update `name`.
    pub(crate) fn set(&mut self, name: &str, up: bool, weight: i16) {
        match self.list.iter_mut().find(|t| t.name == name) {
            Some(t) => {
                t.up = up;
                t.weight = weight;
            }
            None => self.list.push(Track {
                name: name.to_owned(),
                up,
                weight,
            }),
        }
    }

    /// Remove `name`; returns whether it existed.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|t| t.name != name);
        self.list.len() != before
    }

    /// The effective priority for `base`.
    pub(crate) fn effective(&self, base: u8) -> u8 {
        if base == 255 {
            return 255;
        }
        let sum: i32 = self.list.iter().map(Track::contribution).sum();
        // Clamped to 1..=254, so the cast cannot truncate.
        (i32::from(base) + sum).clamp(1, 254) as u8
    }

    /// The first weight-0 input that is down.
    pub(crate) fn fault(&self) -> Option<&Track> {
        self.list.iter().find(|t| t.faulted())
    }

    /// The names of every input that is down.
    pub(crate) fn down(&self) -> Vec<String> {
        self.list
            .iter()
            .filter(|t| !t.up)
            .map(|t| t.name.clone())
            .collect()
    }

    /// Every input.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Track> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::Tracks;

    #[test]
    fn weights_follow_keepalived_and_clamp() {
        let mut t = Tracks::default();
        t.set("up_bonus", true, 20);
        t.set("down_penalty", false, -50);
        t.set("idle_penalty", true, -30);
        assert_eq!(t.effective(100), 70);
        assert_eq!(t.effective(30), 1);
        t.set("down_penalty", true, -50);
        assert_eq!(t.effective(250), 254);
        assert_eq!(t.effective(255), 255);
        assert!(t.fault().is_none());
        t.set("link", false, 0);
        assert_eq!(t.fault().map(|x| x.name.as_str()), Some("link"));
        assert_eq!(t.down(), ["link"]);
        assert!(t.remove("link") && !t.remove("link"));
        assert!(t.fault().is_none());
    }
}
