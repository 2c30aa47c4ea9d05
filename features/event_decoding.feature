Feature: Decoding events
  Events come back as packed protobuf messages; the SDK reads them as the
  generated types, and a page that is not what the reader expects is an
  error that names both types, never a panic.

  Background:
    Given angzarr-local is serving the player domain
    And player "Alice" is registered with deposits of 10, 20 and 30 chips

  Scenario: Reading the events of one type decodes them and skips the others
    When I read the FundsDeposited events of "Alice"
    Then they deposit 10, 20 and 30 chips

  Scenario: A page read as its own type decodes into that message
    When I read event 0 of "Alice" as a PlayerRegistered
    Then the decoded player's email is "alice@example.com"

  Scenario: A page read as another type is an error naming both types
    When I read event 0 of "Alice" as a FundsDeposited
    Then decoding fails with "expected a packed `examples.FundsDeposited`, found type URL `type.googleapis.com/examples.PlayerRegistered`"

  Scenario: A stored event whose bytes are corrupt is a decoding error naming its type
    Given a fact "bank-9" for "Alice" carrying a FundsDeposited whose bytes are corrupt
    When I read the FundsDeposited events of "Alice"
    Then the first 3 decode and the 4th fails mentioning "examples.FundsDeposited"

  Scenario: An aggregate whose history does not decode refuses commands naming the bad event
    Given a fact "bank-9" for "Alice" carrying a FundsDeposited whose bytes are corrupt
    When I deposit 5 chips for "Alice" expecting sequence 5
    Then the error is an invalid argument
    And the error message mentions "examples.FundsDeposited"
    And the error message mentions "sequence 4"
