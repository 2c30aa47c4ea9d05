//! A recording coordinator for testing application code that sends
//! commands: no aggregate runs, every command is recorded, and each is
//! answered with what the test scripted.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use angzarr_proto::command_handler_coordinator_service_server::{
    CommandHandlerCoordinatorService, CommandHandlerCoordinatorServiceServer,
};
use angzarr_proto::event_query_service_server::{EventQueryService, EventQueryServiceServer};
use angzarr_proto::{
    event_page, page_header, query, temporal_query, time, AggregateRoot, Any, AnyExt,
    BusinessResponse, CommandBook, CommandRequest, CommandResponse, Cover, EventBook, EventPage,
    EventRequest, FactInjectionResponse, MergeStrategy, Query, SpeculateCommandHandlerRequest,
    Uuid,
};
use prost::{Message, Name};
use tokio_stream::{Stream, StreamExt};
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::{DomainClient, Rejection};

/// A stand-in for the coordinator, for tests of code that uses
/// [`DomainClient`]: it records every command and fact it is sent and
/// answers each command with the next scripted reply (events, a rejection,
/// a sequence conflict, any gRPC error), keeping the events it answered
/// with as the aggregates' histories, so that queries and
/// [`DomainClient::next_sequence`] see them.
///
/// Without a scripted reply a command is accepted with no events, after
/// the coordinator's own sequence check: a command expecting a sequence
/// other than the aggregate's next is refused as a conflict, exactly as the
/// real coordinator refuses it (FAILED_PRECONDITION "Sequence mismatch:
/// ..." with the current book in the details), unless its merge strategy
/// is `MERGE_AGGREGATE_HANDLES`.
///
/// [`client`](Self::client) speaks real gRPC over an in-memory connection,
/// so errors reach the code under test exactly as they would in production
/// ([`ClientError::is_rejection`](crate::ClientError::is_rejection),
/// [`is_sequence_conflict`](crate::ClientError::is_sequence_conflict), ...).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use angzarr_client::testing::FakeCoordinator;
/// use angzarr_client::Rejection;
/// use examples::player::chips;
/// use examples::proto::{DepositFunds, FundsDeposited};
///
/// let fake = FakeCoordinator::new();
/// fake.reply_events([FundsDeposited { amount: Some(chips(5)), new_balance: Some(chips(5)), deposited_at: None }])
///     .reply_rejection(Rejection::precondition("Player does not exist"));
/// let client = fake.client();
/// let root = uuid::Uuid::new_v4();
///
/// let stored = client.command("player", root).with_command(&DepositFunds { amount: Some(chips(5)) }).execute().await.unwrap();
/// assert_eq!(stored.events.unwrap().pages.len(), 1);
/// let refused = client.command("player", root).with_sequence(1).with_command(&DepositFunds::default()).execute().await.unwrap_err();
/// assert!(refused.is_rejection());
///
/// assert_eq!(fake.commands_of::<DepositFunds>().len(), 2);
/// assert_eq!(client.next_sequence("player", root).await.unwrap(), 1);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct FakeCoordinator {
    state: Arc<Mutex<State>>,
}

/// What the fake answers one command with.
#[derive(Debug, Clone)]
enum Reply {
    Events(Vec<Any>),
    Conflict,
    Status(Status),
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    commands: Vec<CommandRequest>,
    facts: Vec<EventRequest>,
    compensations: Vec<CommandRequest>,
    queries: Vec<Query>,
    /// Each aggregate's pages, with the correlation id that stored them.
    histories: HashMap<Key, Vec<(EventPage, String)>>,
    /// Aggregates in the order they were first written.
    order: Vec<Key>,
    /// Fact ids already stored, with the pages they stored.
    seen_facts: HashMap<String, Vec<EventPage>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    domain: String,
    edition: String,
    root: uuid::Uuid,
}

impl Key {
    fn of(cover: &Cover) -> Result<Key, Status> {
        let root = cover
            .root_uuid()
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        Ok(Key {
            domain: cover.domain.clone(),
            edition: cover.edition_name().to_owned(),
            root,
        })
    }

    fn cover(&self) -> Cover {
        let cover = Cover::new(self.domain.clone(), self.root);
        if self.edition == angzarr_proto::DEFAULT_EDITION {
            cover
        } else {
            cover.with_edition(self.edition.clone())
        }
    }
}

impl State {
    fn next_sequence(&self, key: &Key) -> u32 {
        self.histories
            .get(key)
            .map_or(0, |pages| u32::try_from(pages.len()).unwrap_or(u32::MAX))
    }

    fn book(&self, key: &Key) -> EventBook {
        let pages: Vec<EventPage> = self
            .histories
            .get(key)
            .map(|pages| pages.iter().map(|(page, _)| page.clone()).collect())
            .unwrap_or_default();
        EventBook {
            cover: Some(key.cover()),
            snapshot: None,
            next_sequence: u32::try_from(pages.len()).unwrap_or(u32::MAX),
            pages,
        }
    }

    /// Stores `events` at the aggregate's next sequences; the new pages.
    fn append(&mut self, key: &Key, correlation_id: &str, events: Vec<Any>) -> Vec<EventPage> {
        let first = self.next_sequence(key);
        let created_at = time::now();
        let pages: Vec<EventPage> = events
            .into_iter()
            .zip(first..)
            .map(|(event, sequence)| {
                let mut page = EventPage::new(sequence, event);
                page.created_at = Some(created_at);
                page
            })
            .collect();
        if !self.order.contains(key) {
            self.order.push(key.clone());
        }
        self.histories.entry(key.clone()).or_default().extend(
            pages
                .iter()
                .cloned()
                .map(|page| (page, correlation_id.to_owned())),
        );
        pages
    }
}

impl FakeCoordinator {
    /// A fake with no history and nothing scripted.
    pub fn new() -> Self {
        FakeCoordinator::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already;
        // the records are still worth reading.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn script(&self, reply: Reply) -> &Self {
        self.state().replies.push_back(reply);
        self
    }

    /// Prior history: `events` of the aggregate `root` of `domain`, as if
    /// stored before the test.
    pub fn given<M: Name>(
        &self,
        domain: &str,
        root: uuid::Uuid,
        events: impl IntoIterator<Item = M>,
    ) -> &Self {
        let key = Key {
            domain: domain.to_owned(),
            edition: angzarr_proto::DEFAULT_EDITION.to_owned(),
            root,
        };
        let events = events.into_iter().map(|event| Any::pack(&event)).collect();
        self.state().append(&key, "", events);
        self
    }

    /// The next command is answered with `events`, stored at the
    /// aggregate's next sequences.
    pub fn reply_events<M: Name>(&self, events: impl IntoIterator<Item = M>) -> &Self {
        self.script(Reply::Events(
            events.into_iter().map(|event| Any::pack(&event)).collect(),
        ))
    }

    /// The next command is answered with already packed events.
    pub fn reply_anys(&self, events: impl IntoIterator<Item = Any>) -> &Self {
        self.script(Reply::Events(events.into_iter().collect()))
    }

    /// The next command is refused by the business rules, as an aggregate
    /// refuses it: the rejection's status code and message.
    pub fn reply_rejection(&self, rejection: Rejection) -> &Self {
        self.script(Reply::Status(rejection.to_status()))
    }

    /// The next command meets a sequence conflict, as if another writer had
    /// just stored an event: FAILED_PRECONDITION "Sequence mismatch: ..."
    /// with the aggregate's current book in the details, as the real
    /// coordinator sends it.
    pub fn reply_conflict(&self) -> &Self {
        self.script(Reply::Conflict)
    }

    /// The next command is answered with `status` (UNAVAILABLE, say, to test
    /// retries).
    pub fn reply_status(&self, status: Status) -> &Self {
        self.script(Reply::Status(status))
    }

    /// Every command request received, in order (refused ones included).
    pub fn commands(&self) -> Vec<CommandRequest> {
        self.state().commands.clone()
    }

    /// The commands of type `M` received, decoded, in order.
    pub fn commands_of<M: Name + Default>(&self) -> Vec<M> {
        self.state()
            .commands
            .iter()
            .filter_map(|request| request.command.as_ref())
            .flat_map(|book| book.pages.iter())
            .filter_map(|page| page.command())
            .filter(|command| command.is::<M>())
            .filter_map(|command| command.unpack::<M>().ok())
            .collect()
    }

    /// Every fact request received, in order.
    pub fn facts(&self) -> Vec<EventRequest> {
        self.state().facts.clone()
    }

    /// Every query received (`GetEventBook`, `GetEvents`, each query of a
    /// `Synchronize`), in order.
    pub fn queries(&self) -> Vec<Query> {
        self.state().queries.clone()
    }

    /// Every compensation delivered, in order.
    pub fn compensations(&self) -> Vec<CommandRequest> {
        self.state().compensations.clone()
    }

    /// The aggregate's history as the fake holds it.
    pub fn history(&self, domain: &str, root: uuid::Uuid) -> EventBook {
        self.state().book(&Key {
            domain: domain.to_owned(),
            edition: angzarr_proto::DEFAULT_EDITION.to_owned(),
            root,
        })
    }

    /// The fake's services as tonic routes, to serve them yourself (over
    /// TCP with [`Server::service`](crate::Server::service), say).
    pub fn routes(&self) -> Routes {
        Routes::new(CommandHandlerCoordinatorServiceServer::new(self.clone()))
            .add_service(EventQueryServiceServer::new(self.clone()))
    }

    /// A client of the fake over an in-memory connection (see
    /// [`in_memory_channel`](super::in_memory_channel)); call it inside a
    /// Tokio runtime.
    pub fn client(&self) -> DomainClient {
        DomainClient::from_channel(super::in_memory_channel(self.routes()))
    }

    fn command(&self, request: CommandRequest, store: bool) -> Result<CommandResponse, Status> {
        let mut state = self.state();
        state.commands.push(request.clone());
        let book: CommandBook = request
            .command
            .ok_or_else(|| Status::invalid_argument("CommandRequest must have a command"))?;
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("CommandBook must have a cover"))?;
        let key = Key::of(cover)?;
        let next = state.next_sequence(&key);
        let conflict = |state: &State| {
            let expected = book.expected_sequence();
            Status::with_details(
                Code::FailedPrecondition,
                format!("Sequence mismatch: command expects {expected}, aggregate at {next}"),
                state.book(&key).encode_to_vec().into(),
            )
        };
        let events = match state.replies.pop_front() {
            Some(Reply::Status(status)) => return Err(status),
            Some(Reply::Conflict) => return Err(conflict(&state)),
            Some(Reply::Events(events)) => events,
            None => {
                let handles = book.merge_strategy() == MergeStrategy::MergeAggregateHandles;
                if !handles && book.expected_sequence() != next {
                    return Err(conflict(&state));
                }
                Vec::new()
            }
        };
        let pages = if store {
            state.append(&key, &cover.correlation_id, events)
        } else {
            events
                .into_iter()
                .zip(next..)
                .map(|(event, sequence)| EventPage::new(sequence, event))
                .collect()
        };
        let next_sequence = next.saturating_add(u32::try_from(pages.len()).unwrap_or(u32::MAX));
        Ok(CommandResponse {
            events: Some(EventBook {
                cover: Some(cover.clone()),
                snapshot: None,
                pages,
                next_sequence,
            }),
            ..Default::default()
        })
    }

    fn fact(&self, request: EventRequest) -> Result<FactInjectionResponse, Status> {
        let mut state = self.state();
        state.facts.push(request.clone());
        let book = request
            .events
            .ok_or_else(|| Status::invalid_argument("EventRequest must have events"))?;
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("EventBook must have a cover"))?;
        let key = Key::of(cover)?;
        let mut id = None;
        let mut events = Vec::with_capacity(book.pages.len());
        for page in &book.pages {
            match page.header.as_ref().and_then(|h| h.sequence_type.as_ref()) {
                Some(page_header::SequenceType::ExternalDeferred(deferred)) => {
                    if id.is_none() && !deferred.external_id.is_empty() {
                        id = Some(deferred.external_id.clone());
                    }
                }
                _ => {
                    return Err(Status::invalid_argument(
                        "Fact events must have ExternalDeferredSequence markers",
                    ))
                }
            }
            match &page.payload {
                Some(event_page::Payload::Event(event)) => events.push(event.clone()),
                _ => return Err(Status::invalid_argument("a fact page has no event")),
            }
        }
        if let Some(pages) = id.as_ref().and_then(|id| state.seen_facts.get(id)) {
            return Ok(FactInjectionResponse {
                events: Some(EventBook {
                    cover: Some(cover.clone()),
                    pages: pages.clone(),
                    ..Default::default()
                }),
                already_processed: true,
                ..Default::default()
            });
        }
        let pages = state.append(&key, &cover.correlation_id, events);
        if let Some(id) = id {
            state.seen_facts.insert(id, pages.clone());
        }
        let next_sequence = state.next_sequence(&key);
        Ok(FactInjectionResponse {
            events: Some(EventBook {
                cover: Some(cover.clone()),
                snapshot: None,
                pages,
                next_sequence,
            }),
            ..Default::default()
        })
    }

    fn query(&self, query: &Query) -> Result<Vec<EventBook>, Status> {
        let mut state = self.state();
        state.queries.push(query.clone());
        let cover = query.cover.as_ref().ok_or_else(|| {
            Status::invalid_argument("Query must have a cover with domain/root or correlation_id")
        })?;
        let keeps = |page: &EventPage| selected(query.selection.as_ref(), page);
        if cover.root.is_none() {
            if cover.correlation_id.is_empty() {
                return Err(Status::invalid_argument(
                    "Query must have a cover with domain/root or correlation_id",
                ));
            }
            let books = state
                .order
                .iter()
                .filter_map(|key| {
                    let pages: Vec<EventPage> = state.histories[key]
                        .iter()
                        .filter(|(page, correlation)| {
                            *correlation == cover.correlation_id && keeps(page)
                        })
                        .map(|(page, _)| page.clone())
                        .collect();
                    (!pages.is_empty()).then(|| EventBook {
                        cover: Some(
                            key.cover()
                                .with_correlation_id(cover.correlation_id.clone()),
                        ),
                        snapshot: None,
                        next_sequence: state.next_sequence(key),
                        pages,
                    })
                })
                .collect();
            return Ok(books);
        }
        let mut book = state.book(&Key::of(cover)?);
        book.pages.retain(keeps);
        book.cover = Some(cover.clone());
        Ok(vec![book])
    }
}

/// Whether a query's selection keeps `page` (inclusive upper bounds).
fn selected(selection: Option<&query::Selection>, page: &EventPage) -> bool {
    let Some(sequence) = page.sequence() else {
        return false;
    };
    match selection {
        None => true,
        Some(query::Selection::Range(range)) => {
            sequence >= range.lower && range.upper.is_none_or(|upper| sequence <= upper)
        }
        Some(query::Selection::Sequences(set)) => set.values.contains(&sequence),
        Some(query::Selection::Temporal(temporal)) => match &temporal.point_in_time {
            Some(temporal_query::PointInTime::AsOfSequence(at)) => sequence <= *at,
            Some(temporal_query::PointInTime::AsOfTime(at)) => page
                .created_at
                .is_some_and(|created| (created.seconds, created.nanos) <= (at.seconds, at.nanos)),
            None => true,
        },
    }
}

fn merged(query: &Query, mut books: Vec<EventBook>) -> EventBook {
    if books.len() == 1 {
        return books.remove(0);
    }
    EventBook {
        cover: query.cover.clone(),
        pages: books.into_iter().flat_map(|book| book.pages).collect(),
        ..Default::default()
    }
}

type BookStream = Pin<Box<dyn Stream<Item = Result<EventBook, Status>> + Send>>;
type RootStream = Pin<Box<dyn Stream<Item = Result<AggregateRoot, Status>> + Send>>;

#[tonic::async_trait]
impl CommandHandlerCoordinatorService for FakeCoordinator {
    async fn handle_command(
        &self,
        request: Request<CommandRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        self.command(request.into_inner(), true).map(Response::new)
    }

    async fn handle_event(
        &self,
        request: Request<EventRequest>,
    ) -> Result<Response<FactInjectionResponse>, Status> {
        self.fact(request.into_inner()).map(Response::new)
    }

    async fn handle_sync_speculative(
        &self,
        request: Request<SpeculateCommandHandlerRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        let request = request.into_inner();
        let command = CommandRequest {
            command: request.command,
            ..Default::default()
        };
        self.command(command, false).map(Response::new)
    }

    async fn handle_compensation(
        &self,
        request: Request<CommandRequest>,
    ) -> Result<Response<BusinessResponse>, Status> {
        self.state().compensations.push(request.into_inner());
        Ok(Response::new(BusinessResponse::default()))
    }
}

#[tonic::async_trait]
impl EventQueryService for FakeCoordinator {
    async fn get_event_book(&self, request: Request<Query>) -> Result<Response<EventBook>, Status> {
        let query = request.into_inner();
        let books = self.query(&query)?;
        Ok(Response::new(merged(&query, books)))
    }

    type GetEventsStream = BookStream;

    async fn get_events(&self, request: Request<Query>) -> Result<Response<BookStream>, Status> {
        let books = self.query(request.get_ref())?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            books.into_iter().map(Ok),
        ))))
    }

    type SynchronizeStream = BookStream;

    async fn synchronize(
        &self,
        request: Request<Streaming<Query>>,
    ) -> Result<Response<BookStream>, Status> {
        let fake = self.clone();
        let answers = request.into_inner().map(move |query| {
            let query = query?;
            let books = fake.query(&query)?;
            Ok(merged(&query, books))
        });
        Ok(Response::new(Box::pin(answers)))
    }

    type GetAggregateRootsStream = RootStream;

    async fn get_aggregate_roots(&self, _: Request<()>) -> Result<Response<RootStream>, Status> {
        let roots: Vec<Result<AggregateRoot, Status>> = self
            .state()
            .order
            .iter()
            .map(|key| {
                Ok(AggregateRoot {
                    domain: key.domain.clone(),
                    root: Some(Uuid::from(key.root)),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(roots))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{CommandPage, NoOp, SequenceSet};

    fn request(domain: &str, root: uuid::Uuid, sequence: u32) -> CommandRequest {
        CommandRequest {
            command: Some(CommandBook {
                cover: Some(Cover::new(domain, root)),
                pages: vec![CommandPage::new(sequence, Any::pack(&NoOp::default()))],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn unscripted_commands_pass_the_sequence_check() {
        let fake = FakeCoordinator::new();
        let root = uuid::Uuid::from_u128(1);
        fake.given("player", root, [NoOp::default(), NoOp::default()]);
        let stale = fake.command(request("player", root, 0), true).unwrap_err();
        assert_eq!(stale.code(), Code::FailedPrecondition);
        assert_eq!(
            stale.message(),
            "Sequence mismatch: command expects 0, aggregate at 2"
        );
        assert_eq!(EventBook::decode(stale.details()).unwrap().next_sequence, 2);
        let accepted = fake.command(request("player", root, 2), true).unwrap();
        assert_eq!(accepted.events.unwrap().next_sequence, 2);
        assert_eq!(fake.commands().len(), 2);
    }

    #[test]
    fn scripted_replies_are_used_in_order_and_stored() {
        let fake = FakeCoordinator::new();
        let root = uuid::Uuid::from_u128(2);
        fake.reply_events([NoOp::default()])
            .reply_conflict()
            .reply_status(Status::unavailable("restarting"));
        let first = fake.command(request("table", root, 0), true).unwrap();
        assert_eq!(first.events.unwrap().pages[0].sequence(), Some(0));
        assert!(fake
            .command(request("table", root, 1), true)
            .unwrap_err()
            .message()
            .starts_with("Sequence mismatch: command expects 1, aggregate at 1"));
        assert_eq!(
            fake.command(request("table", root, 1), true)
                .unwrap_err()
                .code(),
            Code::Unavailable
        );
        assert_eq!(fake.history("table", root).pages.len(), 1);
        let only_first = Query {
            cover: Some(Cover::new("table", root)),
            selection: Some(query::Selection::Sequences(SequenceSet { values: vec![5] })),
        };
        let book = fake.query(&only_first).unwrap().remove(0);
        assert!(book.pages.is_empty());
        assert_eq!(book.next_sequence, 1);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let fake = FakeCoordinator::new();
        let status = fake.command(CommandRequest::default(), true).unwrap_err();
        assert_eq!(status.message(), "CommandRequest must have a command");
        let mut short = request("player", uuid::Uuid::nil(), 0);
        if let Some(cover) = short.command.as_mut().and_then(|book| book.cover.as_mut()) {
            cover.root = Some(Uuid { value: vec![1, 2] });
        }
        let status = fake.command(short, true).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(fake.query(&Query::default()).is_err());
        assert!(fake.fact(EventRequest::default()).is_err());
    }
}
