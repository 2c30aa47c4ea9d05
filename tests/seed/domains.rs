//! The small domains the seed's scenarios name (`orders`, `inventory`, a
//! counter, a set, `test`), written with our macros, and the saga, process
//! manager and projector that connect them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::RejectionNotification;
use prost::Name;

macro_rules! named {
    ($package:literal: $($message:ident),* $(,)?) => {
        $(impl Name for $message {
            const NAME: &'static str = stringify!($message);
            const PACKAGE: &'static str = $package;
        })*
    };
}

/// Opens an order for a customer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateOrder {
    #[prost(string, tag = "1")]
    pub customer_id: String,
}

/// Adds an item to an open order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddItem {
    #[prost(string, tag = "1")]
    pub item: String,
}

/// Adds `count` items at once: one command, several events.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddItems {
    #[prost(uint32, tag = "1")]
    pub count: u32,
}

/// Ships an order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ShipOrder {
    #[prost(string, tag = "1")]
    pub carrier: String,
}

/// Cancels an order that has not shipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelOrder {
    #[prost(string, tag = "1")]
    pub reason: String,
}

/// An order was opened.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderCreated {
    #[prost(string, tag = "1")]
    pub order_id: String,
    #[prost(string, tag = "2")]
    pub customer_id: String,
}

/// An item was added.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemAdded {
    #[prost(string, tag = "1")]
    pub item: String,
}

/// An order shipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderShipped {
    #[prost(string, tag = "1")]
    pub carrier: String,
}

/// An order was cancelled.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderCancelled {
    #[prost(string, tag = "1")]
    pub reason: String,
}

/// What the order-summary projector reports for an order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderSummary {
    #[prost(uint32, tag = "1")]
    pub events_seen: u32,
    #[prost(uint32, tag = "2")]
    pub items: u32,
    #[prost(uint32, tag = "3")]
    pub last_sequence: u32,
}

named!("orders": CreateOrder, AddItem, AddItems, ShipOrder, CancelOrder, OrderCreated, ItemAdded,
    OrderShipped, OrderCancelled, OrderSummary);

/// Reserves stock for an order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReserveStock {
    #[prost(string, tag = "1")]
    pub order_id: String,
}

/// Stock was reserved for an order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InventoryReserved {
    #[prost(string, tag = "1")]
    pub order_id: String,
}

/// A reservation was given back: a command it led to was refused.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StockReleased {
    #[prost(string, tag = "1")]
    pub reason: String,
}

named!("inventory": ReserveStock, InventoryReserved, StockReleased);

/// How a compensation describes the refusal it answers: who issued the
/// refused command (from the notification's metadata), and why.
pub fn refusal(notification: &RejectionNotification, ctx: &CommandContext) -> String {
    let metadata = ctx.notification().map(|n| &n.metadata);
    let get = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .map_or("?", String::as_str)
    };
    format!(
        "{} {} refused: {}",
        get(angzarr_client::compensation::metadata::ISSUER_TYPE),
        get(angzarr_client::compensation::metadata::ISSUER_NAME),
        notification.rejection_reason
    )
}

/// Adds to a counter, whatever its value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IncrementBy {
    #[prost(int64, tag = "1")]
    pub amount: i64,
}

/// A counter moved.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Incremented {
    #[prost(int64, tag = "1")]
    pub amount: i64,
    #[prost(int64, tag = "2")]
    pub value: i64,
}

named!("counter": IncrementBy, Incremented);

/// The order workflow's own record of what it has seen.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkflowStep {
    #[prost(string, tag = "1")]
    pub seen: String,
}

named!("workflow": WorkflowStep);

/// An order as its events leave it; also its snapshot.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    #[prost(string, tag = "1")]
    pub order_id: String,
    #[prost(string, tag = "2")]
    pub customer_id: String,
    #[prost(string, repeated, tag = "3")]
    pub items: Vec<String>,
    #[prost(bool, tag = "4")]
    pub shipped: bool,
    #[prost(bool, tag = "5")]
    pub cancelled: bool,
    /// Every event applied, by type, in order.
    #[prost(string, repeated, tag = "6")]
    pub applied: Vec<String>,
}

named!("orders": Order);

/// Orders: created once, items added, shipped or cancelled.
pub struct Orders;

#[aggregate(domain = "orders", state = Order, snapshot)]
impl Orders {
    #[handles(CreateOrder)]
    fn create(&self, cmd: CreateOrder, order: &Order) -> Result<OrderCreated, Rejection> {
        require_not_exists(!order.order_id.is_empty(), "Order already exists")?;
        require_not_empty(&cmd.customer_id, "customer_id")?;
        Ok(OrderCreated {
            order_id: format!("order-of-{}", cmd.customer_id),
            customer_id: cmd.customer_id,
        })
    }

    #[handles(AddItem)]
    fn add(&self, cmd: AddItem, order: &Order) -> Result<ItemAdded, Rejection> {
        require_exists(!order.order_id.is_empty(), "Order does not exist")?;
        require_not_empty(&cmd.item, "item")?;
        Ok(ItemAdded { item: cmd.item })
    }

    #[handles(AddItems)]
    fn add_many(&self, cmd: AddItems, _: &Order) -> Result<Vec<ItemAdded>, Rejection> {
        require_positive(cmd.count, "count")?;
        Ok((0..cmd.count)
            .map(|n| ItemAdded {
                item: format!("item-{n}"),
            })
            .collect())
    }

    #[handles(ShipOrder)]
    fn ship(&self, cmd: ShipOrder, order: &Order) -> Result<OrderShipped, Rejection> {
        require_exists(!order.order_id.is_empty(), "Order does not exist")?;
        if order.shipped {
            return Err(Rejection::precondition("order already shipped"));
        }
        Ok(OrderShipped {
            carrier: cmd.carrier,
        })
    }

    /// The stock could not be reserved: the order is cancelled.
    #[rejected(domain = "inventory", command = ReserveStock)]
    fn reservation_refused(
        &self,
        notification: &RejectionNotification,
        ctx: &CommandContext,
    ) -> OrderCancelled {
        OrderCancelled {
            reason: refusal(notification, ctx),
        }
    }

    #[handles(CancelOrder)]
    fn cancel(&self, cmd: CancelOrder, order: &Order) -> Result<OrderCancelled, Rejection> {
        if order.shipped {
            return Err(Rejection::precondition("cannot cancel shipped order"));
        }
        Ok(OrderCancelled { reason: cmd.reason })
    }

    #[applies(OrderCreated)]
    fn created(order: &mut Order, event: &OrderCreated) {
        order.order_id = event.order_id.clone();
        order.customer_id = event.customer_id.clone();
        order.applied.push("OrderCreated".into());
    }

    #[applies(ItemAdded)]
    fn added(order: &mut Order, event: &ItemAdded) {
        order.items.push(event.item.clone());
        order.applied.push("ItemAdded".into());
    }

    #[applies(OrderShipped)]
    fn shipped(order: &mut Order, _: &OrderShipped) {
        order.shipped = true;
        order.applied.push("OrderShipped".into());
    }

    #[applies(OrderCancelled)]
    fn cancelled(order: &mut Order, _: &OrderCancelled) {
        order.cancelled = true;
        order.applied.push("OrderCancelled".into());
    }
}

/// The stock reservations of one order.
#[derive(Debug, Default)]
pub struct Stock {
    pub reserved: u32,
}

/// Inventory: reserves stock for orders.
pub struct Inventory;

#[aggregate(domain = "inventory", state = Stock)]
impl Inventory {
    #[handles(ReserveStock)]
    fn reserve(&self, cmd: ReserveStock, _: &Stock) -> Result<InventoryReserved, Rejection> {
        require_not_empty(&cmd.order_id, "order_id")?;
        if cmd.order_id.contains("out-of-stock") {
            return Err(Rejection::precondition("out of stock"));
        }
        Ok(InventoryReserved {
            order_id: cmd.order_id,
        })
    }

    /// A shipment the order workflow asked for after a reservation was
    /// refused: the reservation is given back.
    #[rejected(domain = "orders", command = ShipOrder)]
    fn shipment_refused(
        &self,
        notification: &RejectionNotification,
        ctx: &CommandContext,
    ) -> StockReleased {
        StockReleased {
            reason: refusal(notification, ctx),
        }
    }

    #[applies(InventoryReserved)]
    fn reserved(stock: &mut Stock, _: &InventoryReserved) {
        stock.reserved += 1;
    }
}

/// A counter's value.
#[derive(Debug, Default)]
pub struct Count {
    pub value: i64,
}

/// A counter: increments commute, so it takes commands at any sequence.
pub struct Counter;

#[aggregate(domain = "counter", state = Count)]
impl Counter {
    #[handles(IncrementBy)]
    fn increment(&self, cmd: IncrementBy, count: &Count) -> Incremented {
        Incremented {
            amount: cmd.amount,
            value: count.value + cmd.amount,
        }
    }

    #[applies(Incremented)]
    fn incremented(count: &mut Count, event: &Incremented) {
        count.value += event.amount;
    }
}

/// A set's members.
#[derive(Debug, Default)]
pub struct Members {
    pub items: Vec<String>,
}

/// A set: adding a member twice stores it once.
pub struct Set;

#[aggregate(domain = "set", state = Members)]
impl Set {
    #[handles(AddItem)]
    fn add(&self, cmd: AddItem, members: &Members) -> Option<ItemAdded> {
        (!members.items.contains(&cmd.item)).then_some(ItemAdded { item: cmd.item })
    }

    #[applies(ItemAdded)]
    fn added(members: &mut Members, event: &ItemAdded) {
        members.items.push(event.item.clone());
    }
}

/// The `test` domain of the domain-client contracts: takes orders.
pub struct Probe;

#[aggregate(domain = "test", state = Order)]
impl Probe {
    #[handles(CreateOrder)]
    fn create(&self, cmd: CreateOrder) -> OrderCreated {
        OrderCreated {
            order_id: String::new(),
            customer_id: cmd.customer_id,
        }
    }

    #[handles(AddItem)]
    fn add(&self, cmd: AddItem) -> ItemAdded {
        ItemAdded { item: cmd.item }
    }
}

/// How long the slow domain takes to decide.
pub const SLOW: Duration = Duration::from_millis(500);

/// A domain whose orders take [`SLOW`] to decide.
pub struct Slow;

#[aggregate(domain = "slow", state = Order)]
impl Slow {
    #[handles(CreateOrder)]
    async fn create(&self, cmd: CreateOrder) -> OrderCreated {
        tokio::time::sleep(SLOW).await;
        OrderCreated {
            order_id: String::new(),
            customer_id: cmd.customer_id,
        }
    }
}

/// Reserves stock for every order created.
pub struct Fulfillment;

#[saga(name = "order-fulfillment", source = "orders", target = "inventory")]
impl Fulfillment {
    #[handles(OrderCreated)]
    fn reserve(&self, event: &OrderCreated, ctx: &SagaContext) -> Command<ReserveStock> {
        Command::new(
            ctx.root(),
            ReserveStock {
                order_id: event.order_id.clone(),
            },
        )
    }
}

/// Ships an order once its stock is reserved.
pub struct InventoryOrder;

#[saga(name = "inventory-order", source = "inventory", target = "orders")]
impl InventoryOrder {
    #[handles(InventoryReserved)]
    fn ship(&self, _: &InventoryReserved, ctx: &SagaContext) -> Command<ShipOrder> {
        Command::new(
            ctx.root(),
            ShipOrder {
                carrier: "courier".into(),
            },
        )
    }
}

/// What the order workflow has seen of one correlation.
#[derive(Debug, Default)]
pub struct Workflow {
    pub seen: Vec<String>,
}

/// Ships an order once its stock is reserved, across the two domains.
pub struct OrderWorkflow;

#[process_manager(name = "order-workflow", sources = ["orders", "inventory"], targets = ["orders"], state = Workflow)]
impl OrderWorkflow {
    #[handles(OrderCreated)]
    fn created(&self, _: &OrderCreated) -> WorkflowStep {
        WorkflowStep {
            seen: "OrderCreated".into(),
        }
    }

    #[handles(InventoryReserved)]
    fn reserved(
        &self,
        _: &InventoryReserved,
        ctx: &PmContext,
    ) -> (WorkflowStep, Command<ShipOrder>) {
        (
            WorkflowStep {
                seen: "InventoryReserved".into(),
            },
            Command::new(
                ctx.root(),
                ShipOrder {
                    carrier: "post".into(),
                },
            ),
        )
    }

    #[applies(WorkflowStep)]
    fn step(workflow: &mut Workflow, event: &WorkflowStep) {
        workflow.seen.push(event.seen.clone());
    }
}

/// Counts what each order's events add up to; writes its "external system"
/// (a shared list) only when the call is not speculative.
#[derive(Clone, Default)]
pub struct OrderSummaries {
    pub written: Arc<Mutex<Vec<u32>>>,
}

impl OrderSummaries {
    fn record(&self, ctx: &ProjectionContext, items: u32) -> OrderSummary {
        let sequence = ctx.sequence().unwrap_or_default();
        if !ctx.is_speculative() {
            if let Ok(mut written) = self.written.lock() {
                written.push(sequence);
            }
        }
        OrderSummary {
            events_seen: sequence + 1,
            items,
            last_sequence: sequence,
        }
    }
}

#[projector(name = "order-summary", domains = ["orders"])]
impl OrderSummaries {
    #[handles(OrderCreated)]
    fn created(&self, _: &OrderCreated, ctx: &ProjectionContext) -> OrderSummary {
        self.record(ctx, 0)
    }

    #[handles(ItemAdded)]
    fn added(&self, _: &ItemAdded, ctx: &ProjectionContext) -> OrderSummary {
        self.record(ctx, 1)
    }
}
