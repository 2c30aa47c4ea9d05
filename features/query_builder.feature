Feature: Query builder
  `client.query(domain, root)` selects which events to read: a range, listed
  sequences, history as of a sequence or a time, or a correlation id.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered with deposits of 10, 20 and 30 chips

  Scenario: With no selection a query reads every event
    When I query "Alice"
    Then the pages are 0, 1, 2, 3

  Scenario Outline: The range <range> reads <sequences>, as Rust ranges do
    When I query "Alice" with the range <range>
    Then the pages are <sequences>

    Examples:
      | range | sequences        |
      | 1..3  | events 1, 2      |
      | 1..=3 | events 1, 2, 3   |
      | 2..   | events 2, 3      |
      | ..=1  | events 0, 1      |
      | ..2   | events 0, 1      |
      | 0..0  | no events        |
      | 3..1  | no events        |

  Scenario: Listed sequences read exactly those events
    When I query "Alice" for the sequences 0 and 3
    Then the pages are 0, 3

  Scenario: As of a sequence reads history up to and including it
    When I query "Alice" as of sequence 1
    Then the pages are 0, 1

  Scenario: As of a time before the first event reads nothing
    When I query "Alice" as of "2000-01-01T00:00:00Z"
    Then the pages are none

  Scenario: As of now reads every event
    When I query "Alice" as of now
    Then the pages are 0, 1, 2, 3

  Scenario: A timestamp that is not RFC 3339 is refused when the query is built
    When I query "Alice" as of "yesterday"
    Then the error is an invalid argument
    And the error was raised by the client, not by a server
    And the error message mentions "yesterday"

  Scenario: A correlation id reads that command's events whatever their root
    Given player "Bob" is registered with correlation id "signup-bob"
    When I query the player domain by correlation id "signup-bob"
    Then the pages are 0
    And the built query has no root

  Scenario: The last selection given wins
    When I query "Alice" with the range 0..1 and then as of sequence 2
    Then the pages are 0, 1, 2
