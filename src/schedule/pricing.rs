//! The schedule file's optional `pricing:` (README, "How the savings are computed and where the
//! prices come from"): read with the place of every value, checked by [`Pricing::new`], each
//! problem reported at the value it is about.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Problem;
use crate::pricing::{Architecture, FargatePrice, Field, OwnPrices, Pricing};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPricing {
    currency: Option<Spanned<String>>,
    usd_rate: Option<Spanned<f64>>,
    fargate_spot_discount: Option<Spanned<f64>>,
    fargate: Option<RawOwnPrices>,
}

/// `fargate: { x86_64: {...}, arm64: {...} }`, either or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnPrices {
    x86_64: Option<RawPrice>,
    arm64: Option<RawPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    vcpu_hour: Spanned<f64>,
    gb_hour: Spanned<f64>,
}

impl RawPricing {
    fn price(&self, architecture: Architecture) -> Option<&RawPrice> {
        let own = self.fargate.as_ref()?;
        match architecture {
            Architecture::X86_64 => own.x86_64.as_ref(),
            Architecture::Arm64 => own.arm64.as_ref(),
        }
    }

    /// Where the value a problem is about was written; the `pricing:` key's value when it was
    /// not (no check reports a value left out, so this is a fallback only).
    fn place(&self, field: Field, whole: &Spanned<RawPricing>, message: String) -> Problem {
        let at = match field {
            Field::Currency => self.currency.as_ref().map(|c| c.referenced),
            Field::UsdRate => self.usd_rate.as_ref().map(|r| r.referenced),
            Field::FargateSpotDiscount => self.fargate_spot_discount.as_ref().map(|d| d.referenced),
            Field::VcpuHour(a) => self.price(a).map(|p| p.vcpu_hour.referenced),
            Field::GbHour(a) => self.price(a).map(|p| p.gb_hour.referenced),
        };
        let at = at.unwrap_or(whole.referenced);
        Problem { line: at.line(), column: at.column(), message }
    }
}

/// The checked `pricing:`, or the default (USD at the table's prices) when the file has none.
pub(super) fn pricing(raw: Option<&Spanned<RawPricing>>, problems: &mut Vec<Problem>) -> Pricing {
    let Some(whole) = raw else { return Pricing::default() };
    let r = &whole.value;
    let price = |a| r.price(a).map(|p| FargatePrice { vcpu_hour: p.vcpu_hour.value, gb_hour: p.gb_hour.value });
    let own = OwnPrices { x86_64: price(Architecture::X86_64), arm64: price(Architecture::Arm64) };
    Pricing::new(
        r.currency.as_ref().map(|c| c.value.as_str()),
        r.usd_rate.as_ref().map(|v| v.value),
        r.fargate_spot_discount.as_ref().map(|v| v.value),
        own,
    )
    .unwrap_or_else(|found| {
        let mut found: Vec<Problem> = found.into_iter().map(|p| r.place(p.field, whole, p.message)).collect();
        // In the order they are written, as a reader goes through the file.
        found.sort_by_key(|p| (p.line, p.column));
        problems.extend(found);
        Pricing::default()
    })
}
