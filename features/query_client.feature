Feature: Query client
  The query client reads what the coordinator stored: whole books, streams,
  several queries at once, and the list of aggregates.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered with deposits of 10, 20 and 30 chips

  Scenario: An event book holds an aggregate's events in sequence order
    When the query client gets the event book of "Alice"
    Then the book holds events 0, 1, 2, 3
    And the book's next sequence is 4
    And the book's cover names domain "player" and the root of "Alice"

  Scenario: Streaming an aggregate's events yields its book
    When the query client streams the events of "Alice"
    Then the stream yields 1 book holding 4 events

  Scenario: Synchronize answers every query with its own book, in order
    When the query client synchronizes a query for event 1 of "Alice" and a query for all of "Alice"
    Then the books hold 1 and 4 events

  Scenario: The aggregate roots name every aggregate that has events
    Given player "Bob" is registered
    When the query client lists the aggregate roots
    Then the roots include "Alice" and "Bob" in domain "player"

  Scenario: An aggregate with no events reads as an empty book
    When the query client gets the event book of "Nobody"
    Then the book holds no events
    And the book's next sequence is 0

  Scenario: A query without a cover is refused with what it needs
    When the query client gets an event book without a cover
    Then the error is INVALID_ARGUMENT "Query must have a cover with domain/root or correlation_id"
