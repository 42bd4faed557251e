//! TEMPORARY STUB: replaced by the pricing helper's module on merge.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Architecture {
    #[serde(rename = "X86_64")]
    X86_64,
    #[serde(rename = "ARM64")]
    Arm64,
}

impl Architecture {
    pub fn parse(text: Option<&str>) -> Architecture {
        match text {
            Some("ARM64") => Architecture::Arm64,
            _ => Architecture::X86_64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LaunchCapacity {
    #[serde(rename = "FARGATE")]
    Fargate,
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
    #[serde(rename = "EC2")]
    Ec2,
}

impl LaunchCapacity {
    pub fn of_provider(name: &str) -> LaunchCapacity {
        match name {
            "FARGATE" => LaunchCapacity::Fargate,
            "FARGATE_SPOT" => LaunchCapacity::FargateSpot,
            _ => LaunchCapacity::Ec2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TaskSize {
    pub vcpu: f64,
    pub gib: f64,
    pub architecture: Architecture,
}

impl TaskSize {
    pub fn from_units(cpu_units: u32, memory_mib: u32, architecture: Architecture) -> TaskSize {
        TaskSize { vcpu: f64::from(cpu_units) / 1024.0, gib: f64::from(memory_mib) / 1024.0, architecture }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyItem {
    pub provider: String,
    pub base: u32,
    pub weight: u32,
}

pub fn split(strategy: &[StrategyItem], tasks: u32) -> Vec<(LaunchCapacity, u32)> {
    match strategy.first() {
        Some(s) => vec![(LaunchCapacity::of_provider(&s.provider), tasks)],
        None => vec![(LaunchCapacity::Fargate, tasks)],
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pricing {}

#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    pub currency: String,
    pub vcpu_hour: f64,
    pub gib_hour: f64,
    pub spot_discount: f64,
}

impl Pricing {
    pub fn rates(&self, region: &str, _architecture: Architecture) -> Result<Rates, String> {
        match region {
            "ap-northeast-1" => {
                Ok(Rates { currency: "USD".into(), vcpu_hour: 0.05056, gib_hour: 0.00553, spot_discount: 0.7 })
            }
            _ => Err(format!("no Fargate price for {region}: add `pricing.fargate`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub vcpu_per_hour: f64,
    pub gib_per_hour: f64,
    pub cost_per_hour: Option<f64>,
    pub currency: String,
}

pub fn usage(size: &TaskSize, tasks: &[(LaunchCapacity, u32)], rates: &Rates) -> Usage {
    let n: u32 = tasks.iter().map(|t| t.1).sum();
    Usage {
        vcpu_per_hour: size.vcpu * f64::from(n),
        gib_per_hour: size.gib * f64::from(n),
        cost_per_hour: Some(f64::from(n) * (size.vcpu * rates.vcpu_hour + size.gib * rates.gib_hour)),
        currency: rates.currency.clone(),
    }
}

pub fn monthly(cost_per_hour_when_up: f64, fraction_of_week_down: f64) -> f64 {
    cost_per_hour_when_up * fraction_of_week_down * 730.0
}

pub fn fmt_money(amount: f64, currency: &str) -> String {
    format!("{amount:.4} {currency}")
}
