import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { GRANT_ACCESS, type GrantAccess, MAX_GRANTS } from '@keyflow/contracts';
import type { UserRole } from '@keyflow/db';
import { USERNAME_PATTERN, USERNAME_RULE } from '../credentials.util';

const ROLES: UserRole[] = ['user', 'admin'];

/** Ten years: long enough for any token a person means to expire. */
const MAX_TOKEN_LIFETIME_S = 315_360_000;

export class GrantDto {
  @ApiProperty({
    example: 'app/',
    description: 'Every key that starts with this (`""`: every key). At most 512 bytes, no control characters.',
  })
  @IsString()
  @MaxLength(512)
  prefix!: string;

  @ApiProperty({ enum: GRANT_ACCESS, example: 'read', description: '`write` implies `read`.' })
  @IsIn(GRANT_ACCESS)
  access!: GrantAccess;
}

const GRANTS_PROPERTY: ApiPropertyOptions = {
  type: [GrantDto],
  maxItems: MAX_GRANTS,
  example: [
    { prefix: 'app/', access: 'read' },
    { prefix: 'app/cache/', access: 'write' },
  ],
};

function GrantList(): PropertyDecorator {
  return (target, key) => {
    IsArray()(target, key);
    ArrayMaxSize(MAX_GRANTS)(target, key);
    ValidateNested({ each: true })(target, key);
    Type(() => GrantDto)(target, key);
  };
}

export class AuthLoginDto {
  @ApiProperty({ example: 'ada' })
  @IsString()
  @Length(1, 64)
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password' })
  @IsString()
  @Length(1, 1024)
  password!: string;
}

export class AuthSessionResponseDto {
  @ApiProperty({ example: 'ada' })
  username!: string;

  @ApiProperty({ enum: ROLES, example: 'user' })
  role!: UserRole;

  @ApiProperty({ example: 'api-1', description: 'The API instance that served this request.' })
  instance!: string;
}

export class AuthMeResponseDto extends AuthSessionResponseDto {
  @ApiProperty({ enum: ['session', 'token'], description: 'How this request proved who it is.' })
  authenticatedBy!: 'session' | 'token';

  @ApiProperty({
    ...GRANTS_PROPERTY,
    description: 'What this request may read and write (a token: what both it and its owner are granted).',
  })
  grants!: GrantDto[];
}

export class AuthSessionInfoResponseDto extends AuthSessionResponseDto {
  @ApiProperty({ format: 'date-time', description: 'When the session began (the login).' })
  startedAt!: string;

  @ApiProperty({
    format: 'date-time',
    description: 'When it ends unless used again: the idle timeout, pushed forward by every request (this one too).',
  })
  idleExpiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When it ends however active it is: the absolute timeout.' })
  absoluteExpiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'The earlier of the two: when the session ends if left alone.' })
  expiresAt!: string;
}

export class TokenCreateDto {
  @ApiProperty({ example: 'ci-pipeline', description: 'A label to recognise the token by; 1–100 characters.' })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiPropertyOptional({
    ...GRANTS_PROPERTY,
    description:
      'A subset of your own grants (403 otherwise). Absent: the token acts with whatever you may do, now and later ' +
      '(a token made by a restricted token gets that token’s grants).',
  })
  @IsOptional()
  @GrantList()
  grants?: GrantDto[];

  @ApiPropertyOptional({
    example: 86_400,
    description: `Seconds until the token expires (1 to ${MAX_TOKEN_LIFETIME_S}); absent: it does not expire.`,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TOKEN_LIFETIME_S)
  expiresIn?: number;
}

export class TokenResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  name!: string;

  @ApiProperty({
    ...GRANTS_PROPERTY,
    nullable: true,
    description: 'The token’s own grants; `null`: whatever its owner may do. It never allows more than its owner has.',
  })
  grants!: GrantDto[] | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Absent: the token does not expire.' })
  expiresAt?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When it was last used, to the minute; absent: never.' })
  lastUsedAt?: string;
}

export class TokenListResponseDto {
  @ApiProperty({ type: [TokenResponseDto], description: 'Your unrevoked tokens (expired ones too), newest first.' })
  tokens!: TokenResponseDto[];
}

export class PasswordChangeDto {
  @ApiProperty({ format: 'password', description: 'Your password now.' })
  @IsString()
  @Length(1, 1024)
  currentPassword!: string;

  @ApiProperty({ format: 'password', description: '12–1024 characters.' })
  @IsString()
  @MinLength(12)
  @MaxLength(1024)
  newPassword!: string;
}

export class PasswordChangedResponseDto {
  @ApiProperty({ example: 2, description: 'How many of your other sessions ended.' })
  sessionsEnded!: number;
}

export class TokenCreatedResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  name!: string;

  @ApiProperty({
    example: 'kf_3q2-7wEvQ0jJm0eA0hfQ9z6VbqxJkP5J2Yx1c7nA4oU',
    description: 'Send as `Authorization: Bearer <token>`. Shown only now: keyflow keeps only its hash.',
  })
  token!: string;

  @ApiProperty({
    ...GRANTS_PROPERTY,
    nullable: true,
    description: 'As asked for, or as the creator has (see request).',
  })
  grants!: GrantDto[] | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Absent: the token does not expire.' })
  expiresAt?: string;
}

export class UserCreateDto {
  @ApiProperty({
    example: 'ada',
    description: '2–64 lower-case letters, digits, `.`, `_` or `-`, starting with a letter or digit.',
  })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: `username ${USERNAME_RULE}` })
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password', description: '12–1024 characters.' })
  @IsString()
  @MinLength(12)
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: UserRole;

  @ApiPropertyOptional({
    ...GRANTS_PROPERTY,
    default: [],
    description: 'What the user may read and write. Absent: nothing (admins have everything regardless).',
  })
  @IsOptional()
  @GrantList()
  grants?: GrantDto[];
}

export class UserGrantsDto {
  @ApiProperty({ ...GRANTS_PROPERTY, description: 'The user’s new grants, replacing the old ones.' })
  @GrantList()
  grants!: GrantDto[];
}

export class UserUpdateDto {
  @ApiProperty({
    description: '`true` ends the user’s sessions and stops their tokens at once, on every instance; `false` enables.',
  })
  @IsBoolean()
  disabled!: boolean;
}

export class UserResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ada' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: UserRole;

  @ApiProperty({ ...GRANTS_PROPERTY, description: 'What the user may read and write (ignored for admins).' })
  grants!: GrantDto[];

  @ApiProperty()
  disabled!: boolean;

  @ApiPropertyOptional({ format: 'date-time', description: 'Since when the account is disabled.' })
  disabledAt?: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class UserListResponseDto {
  @ApiProperty({ type: [UserResponseDto], description: 'Every user, by name.' })
  users!: UserResponseDto[];
}
