//! Seeded identifiers and names: the same seed gives the same ids in the same order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const FIRST: &[&str] = &[
    "Peter",
    "Giulia",
    "Marco",
    "Sofia",
    "Aisha",
    "Chen",
    "Lucas",
    "Emma",
    "Luca",
    "Chiara",
    "Omar",
    "Hannah",
    "Mateo",
    "Francesca",
    "Noah",
    "Yuki",
    "Alessandro",
    "Olivia",
    "Ravi",
    "Martina",
    "Jonas",
    "Elena",
    "Samuel",
    "Valentina",
];
const LAST: &[&str] = &[
    "Chang", "Rossi", "Bianchi", "Smith", "Khan", "Garcia", "Romano", "Müller", "Colombo",
    "Nguyen", "Ricci", "Brown", "Esposito", "Silva", "Greco", "Tanaka", "Conti", "Jones", "Gallo",
    "Patel",
];

/// The emulator's only source of randomness.
#[derive(Debug, Clone)]
pub struct Ids {
    rng: ChaCha8Rng,
}

impl Ids {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Ids {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn alnum(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| ALNUM[self.rng.random_range(0..ALNUM.len())] as char)
            .collect()
    }

    fn digits(&mut self, len: usize) -> String {
        let first = self.rng.random_range(1..10u8);
        std::iter::once(char::from(b'0' + first))
            .chain((1..len).map(|_| char::from(b'0' + self.rng.random_range(0..10u8))))
            .collect()
    }

    /// A page-scoped user id: 16 digits.
    pub fn psid(&mut self) -> String {
        self.digits(16)
    }

    /// A message id, as in `m_...`.
    pub fn mid(&mut self) -> String {
        format!("m_{}", self.alnum(40))
    }

    /// A conversation id, as in `t_...`.
    pub fn conversation(&mut self) -> String {
        format!("t_{}", self.digits(15))
    }

    /// A persona id: 16 digits.
    pub fn persona(&mut self) -> String {
        self.digits(16)
    }

    /// A trace id for an error.
    pub fn fbtrace(&mut self) -> String {
        self.alnum(23)
    }

    /// A generated person's first and last name.
    pub fn name(&mut self) -> (String, String) {
        let first = FIRST[self.rng.random_range(0..FIRST.len())];
        let last = LAST[self.rng.random_range(0..LAST.len())];
        (first.to_owned(), last.to_owned())
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids() {
        let (mut a, mut b) = (Ids::new(7), Ids::new(7));
        for _ in 0..10 {
            assert_eq!(a.psid(), b.psid());
            assert_eq!(a.mid(), b.mid());
        }
        assert_ne!(Ids::new(7).mid(), Ids::new(8).mid());
        let psid = Ids::new(1).psid();
        assert_eq!(psid.len(), 16);
        assert!(!psid.starts_with('0'));
    }
}
