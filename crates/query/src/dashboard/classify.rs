//! `talkhouse_classify(instant)`: the label of a core [`Classifier`] range holding the instant,
//! or null. This is how the domain's time windows (periods, series buckets) enter a plan.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int32Array};
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use talkhouse_core::window::Classifier;

#[derive(Debug, PartialEq, Eq, Hash)]
struct Classify {
    classifier: Classifier,
    signature: Signature,
}

/// `classifier`'s label of `instant` (a microsecond timestamp column), as a nullable Int32.
pub fn classify(classifier: Classifier, instant: Expr) -> Expr {
    let udf = ScalarUDF::new_from_impl(Classify {
        classifier,
        signature: Signature::any(1, Volatility::Immutable),
    });
    Arc::new(udf).call(vec![instant])
}

impl ScalarUDFImpl for Classify {
    fn name(&self) -> &str {
        "talkhouse_classify"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [instant] = args.args.as_slice() else {
            return exec_err!("talkhouse_classify takes one argument");
        };
        let instants = instant.to_array(args.number_rows)?;
        let DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, _) = instants.data_type()
        else {
            return exec_err!(
                "talkhouse_classify needs a microsecond timestamp, got {}",
                instants.data_type()
            );
        };
        let instants = instants.as_primitive::<TimestampMicrosecondType>();
        let labels: Int32Array = instants
            .iter()
            .map(|micros| {
                micros
                    .and_then(|m| self.classifier.classify(m))
                    .map(|label| label as i32)
            })
            .collect();
        debug_assert_eq!(labels.len(), instants.len());
        Ok(ColumnarValue::Array(Arc::new(labels)))
    }
}
