//! What the dashboard counts, defined once: the measures a rollup row sums, in their order, and
//! the accuracy rule. The writer's rollups, the index answers and the plans that answer without
//! them all read these definitions.

use crate::{ContentType, Message, NlpResponse, Sender};

/// A count a rollup row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// Latest conversation versions that started in the row's bucket.
    Conversations,
    UserMessages,
    BotMessages,
    /// Evaluated messages (see [`accuracy_measure`]) the NLP found an answer for.
    Found,
    /// Evaluated messages it found none for.
    NotFound,
}

impl Measure {
    /// Every measure, in the order rollup rows hold them.
    pub const ALL: [Measure; 5] = [
        Measure::Conversations,
        Measure::UserMessages,
        Measure::BotMessages,
        Measure::Found,
        Measure::NotFound,
    ];

    /// Its place in [`Measure::ALL`].
    pub fn position(self) -> usize {
        self as usize
    }

    /// The measure of a message by its sender.
    pub fn of_sender(sender: Sender) -> Measure {
        match sender {
            Sender::User => Measure::UserMessages,
            Sender::Bot => Measure::BotMessages,
        }
    }
}

/// Accuracy is computed over the user messages of this sender and content type that the NLP
/// evaluated (`nlp_response` set).
pub const EVALUATED_SENDER: Sender = Sender::User;
pub const EVALUATED_CONTENT_TYPE: ContentType = ContentType::Text;

/// Whether a message of this sender and content type counts towards accuracy.
pub fn is_evaluated(sender: Sender, content_type: ContentType) -> bool {
    sender == EVALUATED_SENDER && content_type == EVALUATED_CONTENT_TYPE
}

/// The accuracy measure a message counts in: FOUND or NONE of an evaluated message.
pub fn accuracy_measure(message: &Message) -> Option<Measure> {
    accuracy_measure_of(message.sender, message.content_type, message.nlp_response)
}

/// [`accuracy_measure`] of a message's sender, content type and NLP response.
pub fn accuracy_measure_of(
    sender: Sender,
    content_type: ContentType,
    nlp_response: Option<NlpResponse>,
) -> Option<Measure> {
    if !is_evaluated(sender, content_type) {
        return None;
    }
    match nlp_response? {
        NlpResponse::Found => Some(Measure::Found),
        NlpResponse::None => Some(Measure::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_order_of_all() {
        for (index, measure) in Measure::ALL.into_iter().enumerate() {
            assert_eq!(measure.position(), index);
        }
    }
}
